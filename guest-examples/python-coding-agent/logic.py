"""The coding agent's pure logic: input parsing, the tools' schemas and
argument checks, the result texts with their truncation, and the report.

Nothing here touches the sandbox or the model, and nothing imports
`wit_world`, so `test_logic.py` runs it with plain Python. `app.py` does the
calls. The texts and limits are those of the coding agent contract, which
the Rust coding agent (`../coding-agent`) implements too: a model sees the
same tools and the same results from either.
"""

import json
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

# Each stream of a command's output keeps its first and last this many
# bytes: enough for a test runner's summary at the end and the command's
# first complaint at the start, without flooding the model's context.
STREAM_KEEP = 4000
# A file read keeps its first this many bytes.
FILE_KEEP = 16000
DEFAULT_MAX_STEPS = 30
DEFAULT_TIMEOUT_S = 60
# `process.run-options.timeout-ms` is a u32.
MAX_TIMEOUT_MS = 2**32 - 1


class InputError(Exception):
    """The agent's input is unusable; `run` returns `input: <reason>`."""


class ToolError(Exception):
    """A tool call failed; the model reads `error: <message>`."""


@dataclass
class Settings:
    """What the input asks for."""

    task: str
    model: str = ""  # an alias of the policy; "" is its default alias
    max_steps: int = DEFAULT_MAX_STEPS
    stream: bool = False


def parse_input(text: str) -> Settings:
    """Plain text is the task; text starting with `{` must be a JSON object
    `{"task": ..., "model": ..., "max_steps": ..., "stream": ...}`."""
    if not text.lstrip().startswith("{"):
        task = text.strip()
        if not task:
            raise InputError("no task given")
        return Settings(task=task)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(str(e)) from None
    if not isinstance(value, dict):
        raise InputError("expected a JSON object")
    task = value.get("task")
    if not isinstance(task, str) or not task.strip():
        raise InputError('"task" must be a non-empty string')
    settings = Settings(task=task)
    if "model" in value:
        if not isinstance(value["model"], str):
            raise InputError('"model" must be a string')
        settings.model = value["model"]
    if "max_steps" in value:
        if not _is_int(value["max_steps"]) or value["max_steps"] < 0:
            raise InputError('"max_steps" must be a non-negative integer')
        settings.max_steps = value["max_steps"]
    if "stream" in value:
        if not isinstance(value["stream"], bool):
            raise InputError('"stream" must be true or false')
        settings.stream = value["stream"]
    return settings


def _is_int(value: Any) -> bool:
    # JSON's true and false are ints to Python; they are not numbers here.
    return isinstance(value, int) and not isinstance(value, bool)


def system_prompt(workdir: str) -> str:
    # The Rust agent's wording, so the two can be compared on one task.
    return (
        f"You are a coding agent working in a sandbox whose working directory is {workdir}. "
        "Use the tools to look at the project, run commands such as its tests, and change files; "
        "paths are relative to the working directory. Read a file before you edit it, and check "
        "your change by running the tests. When the task is done, call `finish` with a short "
        "summary of what you did."
    )


# ---------------------------------------------------------------------------
# The tools the model may call: name, description, JSON Schema of the
# arguments. The same text, byte for byte, as the Rust agent's
# (`../coding-agent/src/tools.rs`): change them in both or neither.

TOOLS: List[Tuple[str, str, str]] = [
    (
        "run_command",
        "Run a shell command (sh -c) in the working directory. Returns the exit code, stdout and stderr; "
        "long output is cut in the middle.",
        '{"type":"object","properties":{"command":{"type":"string","description":"The shell command."},'
        '"timeout_s":{"type":"integer","description":"Seconds before the command is killed (default 60)."}},'
        '"required":["command"]}',
    ),
    (
        "read_file",
        "Read a text file (at most its first 16000 bytes).",
        '{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}',
    ),
    (
        "write_file",
        "Create or overwrite a file with the given content; parent directories are created.",
        '{"type":"object","properties":{"path":{"type":"string"},"content":{"type":"string"}},'
        '"required":["path","content"]}',
    ),
    (
        "list_dir",
        "List a directory, one name per line; directories end with /.",
        '{"type":"object","properties":{"path":{"type":"string","description":"Default: the working directory."}}}',
    ),
    (
        "edit_file",
        "Replace one occurrence of `old` in a file with `new`. `old` must match the file exactly "
        "(whitespace included) and occur exactly once; include surrounding lines to make it unique.",
        '{"type":"object","properties":{"path":{"type":"string"},"old":{"type":"string"},"new":{"type":"string"}},'
        '"required":["path","old","new"]}',
    ),
    (
        "finish",
        "Call when the task is done, with a short summary of what you did.",
        '{"type":"object","properties":{"summary":{"type":"string"}},"required":["summary"]}',
    ),
]


class Arguments:
    """A tool call's arguments, checked as each is read."""

    def __init__(self, text: str) -> None:
        # Some models send no text at all for a call without arguments.
        if not text.strip():
            text = "{}"
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            raise ToolError(f"the arguments are not valid JSON: {e}") from None
        if not isinstance(value, dict):
            raise ToolError("the arguments must be a JSON object")
        self._value: Dict[str, Any] = value

    def string(self, name: str, default: Optional[str] = None) -> str:
        """A string argument; required unless a default is given."""
        value = self._value.get(name)
        if value is None:
            if default is None:
                raise ToolError(f'missing required argument "{name}"')
            return default
        if not isinstance(value, str):
            raise ToolError(f'argument "{name}" must be a string')
        return value

    def integer(self, name: str, default: int) -> int:
        """An optional integer argument."""
        value = self._value.get(name)
        if value is None:
            return default
        # Models often write 30.0 for 30; accept whole floats.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not _is_int(value):
            raise ToolError(f'argument "{name}" must be an integer')
        return value


# ---------------------------------------------------------------------------
# Result texts.


def lossy(data: bytes) -> str:
    """UTF-8 text, with U+FFFD for each invalid sequence."""
    return data.decode("utf-8", "replace")


def clip_stream(data: bytes) -> str:
    """A command's stdout or stderr: its first and last STREAM_KEEP bytes,
    with how much was left out between them."""
    if len(data) <= 2 * STREAM_KEEP:
        return lossy(data)
    omitted = len(data) - 2 * STREAM_KEEP
    return f"{lossy(data[:STREAM_KEEP])}\n[... {omitted} bytes omitted ...]\n{lossy(data[-STREAM_KEEP:])}"


def command_result(exit_code: Optional[int], stdout: bytes, stderr: bytes) -> str:
    """`run_command`'s result; `exit_code` None means the command timed out."""
    status = "timeout" if exit_code is None else str(exit_code)
    return f"exit code: {status}\n--- stdout ---\n{clip_stream(stdout)}\n--- stderr ---\n{clip_stream(stderr)}"


def timeout_ms(timeout_s: int) -> int:
    """`run_command`'s `timeout_s` as the host's `timeout-ms`."""
    if timeout_s < 1:
        raise ToolError('argument "timeout_s" must be at least 1')
    return min(timeout_s * 1000, MAX_TIMEOUT_MS)


def file_result(data: bytes) -> str:
    """`read_file`'s result: the text, cut at FILE_KEEP bytes."""
    if len(data) <= FILE_KEEP:
        return lossy(data)
    return f"{lossy(data[:FILE_KEEP])}\n[... truncated: {len(data)} bytes in all]"


def listing(entries: Iterable[Tuple[str, bool]]) -> str:
    """`list_dir`'s result from `(name, is_directory)` pairs: sorted by
    name, one a line, directories marked with a trailing `/`."""
    return "\n".join(name + "/" if is_dir else name for name, is_dir in sorted(entries))


def utf8(data: bytes, path: str) -> str:
    """A file's text for `edit_file`. Not lossy: writing back a lossy
    decoding would corrupt the file's other bytes."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolError(f"{path} is not UTF-8 text; use write_file") from None


def edit(text: str, old: str, new: str, path: str) -> str:
    """`text` with the one occurrence of `old` replaced by `new`. More than
    one occurrence is an error too: the model must say which it means."""
    count = text.count(old)
    if count == 0:
        raise ToolError(f"old text not found in {path}")
    if count > 1:
        raise ToolError(f"old text occurs {count} times in {path}; give more context")
    return text.replace(old, new, 1)


# ---------------------------------------------------------------------------
# The report.


@dataclass
class Tally:
    """What the run did, for the report."""

    steps: int = 0  # model calls that returned an answer
    tool_calls: int = 0
    tools: Dict[str, int] = field(default_factory=dict)
    files_changed: Set[str] = field(default_factory=set)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False
    model: str = ""  # the model the provider named in the last answer

    def answer(self, prompt_tokens: int, completion_tokens: int, estimated: bool, model: str) -> None:
        """Count one model answer."""
        self.steps += 1
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.estimated = self.estimated or estimated
        self.model = model

    def tool_call(self, name: str) -> None:
        """Count one tool call, whatever its outcome."""
        self.tool_calls += 1
        self.tools[name] = self.tools.get(name, 0) + 1

    def report(self, ok: bool, stopped: str, summary: str) -> str:
        """The report as compact JSON, keys in the contract's order (as
        serde_json writes it, so the Rust and Python agents' reports can be
        compared as text)."""
        report = {
            "ok": ok,
            "stopped": stopped,
            "summary": summary,
            "steps": self.steps,
            "tool_calls": self.tool_calls,
            "tools": dict(sorted(self.tools.items())),
            "files_changed": sorted(self.files_changed),
            "usage": {
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "estimated": self.estimated,
            },
            "model": self.model,
        }
        return json.dumps(report, ensure_ascii=False, separators=(",", ":"))
