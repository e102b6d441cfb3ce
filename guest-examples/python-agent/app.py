"""The example agent in Python: the same steps and the same JSON report as
`guest-examples/rust-agent`. Given a task name as input it:

1. describes its sandbox (info, capabilities);
2. runs a command and checks its output;
3. streams a longer command's output as it is produced;
4. writes a small project (three files, one streamed), lists and reads it back;
5. persists a snapshot of the project;
6. changes the project (edits, deletes, adds files);
7. hydrates the snapshot back and checks every file is as it was;
8. reads its network policy (or notes that the backend has none);
9. asks a model for a one-word reply, if the policy defines one;
10. logs each step to the host;

and returns one JSON report.

`wit_world` is generated from `../../wit` by componentize-py (`./build.sh`
writes it to `bindings/` for your editor; componentize-py generates it again
when it builds the component).
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import fs, lifecycle, log, model, network, process, snapshot, types

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


def code_name(code: types.ErrorCode) -> str:
    """`not-found`, ..., `backend:http-500`"""
    return f"backend:{code.value}" if isinstance(code, types.ErrorCode_Backend) else _CODES[type(code)]


def describe(error: types.Error) -> str:
    """`fs.write-file failed (not-found): ...`"""
    return f"{error.operation} failed ({code_name(error.code)}): {error.message}"


def step(name: str, ok: bool) -> None:
    log.log(log.Level.INFO if ok else log.Level.ERROR, f"step {name}", [("ok", "true" if ok else "false")])


def write(sb: types.Sandbox, path: str, data: bytes) -> fs.FileStat:
    """Write a whole file atomically, creating parent directories."""
    return fs.write_file(sb, path, data, fs.WriteOptions(mode=None, create_parents=True, exclusive=False))


def read_text(sb: types.Sandbox, path: str) -> str:
    return fs.read_file(sb, path, None).decode("utf-8", "replace")


def ask_model() -> str:
    """The model step's report value: `none` when the policy defines no
    model, else the default model's reply to a one-word prompt, or
    `error: <code>`."""
    if not model.aliases():
        return "none"

    def say(role: model.Role, text: str) -> model.Message:
        return model.Message(role=role, content=text, tool_calls=[], tool_call_id=None)

    request = model.Request(
        model="",  # the policy's default alias
        messages=[say(model.Role.SYSTEM, "You are terse."), say(model.Role.USER, "Reply with one word: pong")],
        tools=[],
        tool_choice=None,
        temperature=None,
        max_tokens=None,
        stop=[],
        extra=None,
    )
    try:
        answer = model.complete(request)
    except Err as e:
        return f"error: {code_name(e.value.code)}"
    # Only ASCII whitespace, so that the four example agents trim alike.
    return (answer.message.content or "").strip(" \t\r\n")


class WitWorld(wit_world.WitWorld):
    def run(self, input: str) -> str:
        try:
            return agent(input)
        except Err as e:
            # A failed sandbox call: report it as the agent's error.
            raise Err(describe(e.value))


def agent(input: str) -> str:
    task = input.strip() or "demo"
    with lifecycle.current() as sb:
        report: dict = {"agent": "python", "task": task}

        # 1. The sandbox.
        info = sb.info()
        caps = sb.capabilities()
        report["sandbox"] = {"backend": info.backend, "workdir": info.workdir, "owned": info.owned}
        report["capabilities"] = {
            "streaming": caps.streaming,
            "pty": caps.pty,
            "snapshots": caps.snapshots,
            "network_policy": caps.network_policy,
        }

        # 2. A command.
        options = process.RunOptions(cwd=None, env=[], stdin=None, timeout_ms=None, max_output_bytes=None)
        hello = process.run(sb, ["echo", f"hello from {task}"], options)
        stdout = hello.stdout.decode("utf-8", "replace")
        exec_ok = hello.exit_code == 0 and not hello.timed_out and stdout == f"hello from {task}\n"
        step("exec", exec_ok)
        report["exec"] = {"ok": exec_ok, "stdout": stdout.rstrip()}

        # 3. Streaming.
        script = "for i in 1 2 3 4 5; do echo tick $i; sleep 0.05; done"
        spawn_options = process.SpawnOptions(cwd=None, env=[], timeout_ms=None, pty=None)
        chunks, text, code = 0, "", -1
        with process.spawn(sb, ["sh", "-c", script], spawn_options) as p:
            while True:
                event = p.next_event(None)
                if isinstance(event, process.ProcessEvent_Stdout):
                    chunks += 1
                    text += event.value.decode("utf-8", "replace")
                elif isinstance(event, process.ProcessEvent_Exited):
                    code = event.value.exit_code
                    break
        lines = len(text.splitlines())
        stream_ok = code == 0 and lines == 5 and chunks >= 2
        step("stream", stream_ok)
        report["stream"] = {"ok": stream_ok, "lines": lines, "exit_code": code}

        # 4. Files.
        project = f"{task}-project"
        write(sb, f"{project}/README.md", f"# {task}\n".encode())
        write(sb, f"{project}/src/main.txt", b"first version\n")
        writer_options = fs.WriteOptions(mode=None, create_parents=True, exclusive=False)
        with fs.open_write(sb, f"{project}/data.bin", writer_options) as w:
            for i in range(16):
                w.write(bytes([i]) * 4096)
            data = w.finish()
        listed = sorted(entry.name for entry in fs.list_dir(sb, project))
        read_back = read_text(sb, f"{project}/src/main.txt") == "first version\n"
        files_ok = read_back and data.size == 16 * 4096 and listed == ["README.md", "data.bin", "src"]
        step("files", files_ok)
        report["files"] = {"ok": files_ok, "listed": listed, "data_bytes": data.size, "read_back": read_back}

        # 5. Snapshot.
        snap = snapshot.persist(sb, project, [])
        step("snapshot", True)
        report["snapshot"] = {"ok": True, "entries": snap.entries, "sha256": len(snap.sha256) == 64}

        # 6. Change things.
        write(sb, f"{project}/src/main.txt", b"second version\n")
        fs.remove(sb, f"{project}/README.md", False)
        write(sb, f"{project}/scratch.tmp", b"temporary\n")
        changed = read_text(sb, f"{project}/src/main.txt") == "second version\n"
        step("mutate", changed)
        report["mutate"] = {"ok": changed}

        # 7. Hydrate and check.
        snapshot.hydrate(sb, snap.id, project, snapshot.HydrateMode.REPLACE)
        main_restored = read_text(sb, f"{project}/src/main.txt") == "first version\n"
        readme_restored = fs.exists(sb, f"{project}/README.md")
        scratch_removed = not fs.exists(sb, f"{project}/scratch.tmp")
        data_back = fs.read_file(sb, f"{project}/data.bin", None)
        data_ok = len(data_back) == 16 * 4096 and all(
            data_back[i * 4096 : (i + 1) * 4096] == bytes([i]) * 4096 for i in range(16)
        )
        hydrate_ok = main_restored and readme_restored and scratch_removed and data_ok
        step("hydrate", hydrate_ok)
        report["hydrate"] = {
            "ok": hydrate_ok,
            "content_restored": main_restored and data_ok,
            "deleted_file_back": readme_restored,
            "new_file_removed": scratch_removed,
        }
        try:
            snapshot.delete(snap.id)
        except Err:
            pass

        # 8. Network policy.
        try:
            policy = f"v{network.get_policy(sb).active_version}"
        except Err as e:
            kind = type(e.value.code)
            if kind is types.ErrorCode_Unsupported:
                policy = "unsupported"
            elif kind is types.ErrorCode_PermissionDenied:
                policy = "denied"
            elif kind is types.ErrorCode_NotFound:
                policy = "none"
            else:
                raise
        step("network", True)
        report["network"] = {"ok": True, "policy": policy}

        # 9. A model.
        report["model"] = ask_model()
        step("model", True)

        report["ok"] = exec_ok and stream_ok and files_ok and changed and hydrate_ok
        return json.dumps(report, separators=(",", ":"), ensure_ascii=False)
