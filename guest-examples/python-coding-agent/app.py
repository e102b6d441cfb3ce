"""A coding agent in Python: a model, reached only through the host's
`model` interface, works on a task in the sandbox with six tools
(run_command, read_file, write_file, list_dir, edit_file, finish) until it
calls `finish`, answers without a tool call, or runs out of steps or budget.
It returns one JSON report of what happened; `../coding-agent` is the same
agent in Rust, with the same tools, result texts and report.

The input is the task as plain text, or a JSON object
`{"task": "...", "model": "<alias>", "max_steps": 30, "stream": false}`.

The pure parts (input, tool schemas, result texts, report) are in
`logic.py`, which `test_logic.py` tests without WebAssembly; this file makes
the calls. `wit_world` is generated from `../../wit` by componentize-py
(`./build.sh` also writes it to `bindings/` for your editor).
"""

from typing import Callable, Dict, List, Optional, Tuple

import wit_world
from componentize_py_types import Err
from wit_world.imports import fs, lifecycle, log, model, process, types

import logic
from logic import Arguments, Settings, Tally, ToolError

# Text for each error code, as the Rust guest SDK prints them.
_CODES = {
    types.ErrorCode_NotFound: "not-found",
    types.ErrorCode_PermissionDenied: "permission-denied",
    types.ErrorCode_Timeout: "timeout",
    types.ErrorCode_TooLarge: "too-large",
    types.ErrorCode_InvalidArgument: "invalid-argument",
    types.ErrorCode_Unavailable: "unavailable",
    types.ErrorCode_Conflict: "conflict",
    types.ErrorCode_Unsupported: "unsupported",
}

_TOOLS = [model.Tool(name=name, description=text, parameters=schema) for name, text, schema in logic.TOOLS]


def describe(error: types.Error) -> str:
    """`fs.read-file failed (not-found): ...`"""
    code = error.code
    text = f"backend:{code.value}" if isinstance(code, types.ErrorCode_Backend) else _CODES[type(code)]
    return f"{error.operation} failed ({text}): {error.message}"


class WitWorld(wit_world.WitWorld):
    def run(self, input: str) -> str:
        try:
            settings = logic.parse_input(input)
        except logic.InputError as e:
            raise Err(f"input: {e}")
        with lifecycle.current() as sb:
            try:
                workdir = sb.info().workdir
            except Err as e:
                # The workdir only goes into the system prompt, but a sandbox
                # that cannot describe itself will not run tools either.
                return Tally().report(False, "error", describe(e.value))
            return Agent(sb, settings, workdir).run()


def message(role: model.Role, content: str, call_id: Optional[str] = None) -> model.Message:
    return model.Message(role=role, content=content, tool_calls=[], tool_call_id=call_id)


class Agent:
    """One run: the conversation, the tools and the tally."""

    def __init__(self, sb: types.Sandbox, settings: Settings, workdir: str) -> None:
        self.sb = sb
        self.settings = settings
        self.tally = Tally()
        self.messages: List[model.Message] = [
            message(model.Role.SYSTEM, logic.system_prompt(workdir)),
            message(model.Role.USER, settings.task),
        ]
        # Each tool but `finish` (which `call` handles): given the arguments,
        # it returns the result text or raises ToolError or Err (a failed
        # sandbox call).
        self.tools: Dict[str, Callable[[Arguments], str]] = {
            "run_command": self.run_command,
            "read_file": self.read_file,
            "write_file": self.write_file,
            "list_dir": self.list_dir,
            "edit_file": self.edit_file,
        }

    def run(self) -> str:
        """The loop; returns the report."""
        for _ in range(self.settings.max_steps):
            try:
                completion = self.ask()
            except Err as e:
                error: types.Error = e.value
                # Past a budget the message names the policy key to raise.
                if isinstance(error.code, types.ErrorCode_TooLarge):
                    return self.tally.report(False, "budget", error.message)
                return self.tally.report(False, "error", describe(error))
            usage = completion.usage
            self.tally.answer(usage.prompt_tokens, usage.completion_tokens, usage.estimated, completion.model)
            answer = completion.message
            self.messages.append(
                model.Message(
                    role=model.Role.ASSISTANT, content=answer.content, tool_calls=answer.tool_calls, tool_call_id=None
                )
            )
            names = ", ".join(call.name for call in answer.tool_calls) or "answer"
            log.log(log.Level.INFO, f"step {self.tally.steps}: {names}", [])
            if not answer.tool_calls:
                return self.tally.report(True, "answer", answer.content or "")
            for call in answer.tool_calls:
                result, summary = self.call(call)
                self.messages.append(message(model.Role.TOOL, result, call.id))
                if summary is not None:
                    return self.tally.report(True, "finish", summary)
        return self.tally.report(False, "step-limit", f"no finish after {self.settings.max_steps} model calls")

    def ask(self) -> model.Completion:
        """One model call, streamed or not; raises Err on failure."""
        request = model.Request(
            model=self.settings.model,
            messages=self.messages,
            tools=_TOOLS,
            tool_choice=None,  # the model decides
            temperature=None,
            max_tokens=None,
            stop=[],
            extra=None,
        )
        if not self.settings.stream:
            return model.complete(request)
        with model.complete_streaming(request) as stream:
            # The text and tool-call pieces are there to show progress;
            # `done` carries the whole answer assembled.
            while (delta := stream.next()) is not None:
                if isinstance(delta, model.Delta_Done):
                    return delta.value
        # The interface promises a `done` before the end; treat its absence
        # as a broken connection.
        raise Err(
            types.Error(
                code=types.ErrorCode_Unavailable(),
                operation="model.completion-stream.next",
                message="the answer ended without `done`",
                retryable=True,
            )
        )

    def call(self, call: model.ToolCall) -> Tuple[str, Optional[str]]:
        """Run one tool call: its result text, and the summary if it was a
        successful `finish`. Failures become `error: ...` results, for the
        model to read and react to."""
        self.tally.tool_call(call.name)
        try:
            args = Arguments(call.arguments)
            if call.name == "finish":
                return "done", args.string("summary")
            tool = self.tools.get(call.name)
            if tool is None:
                raise ToolError(f'unknown tool "{call.name}"')
            return tool(args), None
        except ToolError as e:
            return f"error: {e}", None
        except Err as e:
            return f"error: {describe(e.value)}", None

    # The tools.

    def run_command(self, args: Arguments) -> str:
        command = args.string("command")
        timeout = logic.timeout_ms(args.integer("timeout_s", logic.DEFAULT_TIMEOUT_S))
        options = process.RunOptions(cwd=None, env=[], stdin=None, timeout_ms=timeout, max_output_bytes=None)
        out = process.run(self.sb, ["sh", "-c", command], options)
        return logic.command_result(None if out.timed_out else out.exit_code, out.stdout, out.stderr)

    def read_file(self, args: Arguments) -> str:
        return logic.file_result(fs.read_file(self.sb, args.string("path"), None))

    def write_file(self, args: Arguments) -> str:
        path, content = args.string("path"), args.string("content")
        data = content.encode()
        self.write(path, data)
        return f"wrote {len(data)} bytes to {path}"

    def list_dir(self, args: Arguments) -> str:
        entries = fs.list_dir(self.sb, args.string("path", "."))
        return logic.listing((entry.name, entry.kind == fs.FileKind.DIRECTORY) for entry in entries)

    def edit_file(self, args: Arguments) -> str:
        path, old, new = args.string("path"), args.string("old"), args.string("new")
        text = logic.utf8(fs.read_file(self.sb, path, None), path)
        self.write(path, logic.edit(text, old, new, path).encode())
        return f"edited {path}"

    def write(self, path: str, data: bytes) -> None:
        """Write a whole file atomically, creating parent directories, and
        note it for the report."""
        fs.write_file(self.sb, path, data, fs.WriteOptions(mode=None, create_parents=True, exclusive=False))
        self.tally.files_changed.add(path)
