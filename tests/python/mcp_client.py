"""The official MCP Python SDK (PyPI `mcp`) drives `openshell-wasm mcp`.

Usage: mcp_client.py CONFIG_JSON

CONFIG_JSON: {"bin": path, "transport": "stdio" | "http", "server_args": [...],
"list_args": [...], "component_tool", "trap_tool", "loop_tool": tool names
or null, "typed_prefix": the tool-name prefix of the typed_tools test
component or null}. The server's policy must grant sandbox create, delete
and list. `server_args` follow
`openshell-wasm mcp` (backend, policy, components); `list_args` make
`openshell-wasm sandbox list --json` see the same sandboxes.

Every sandbox tool is called over the chosen transport, bad input is
refused without ending the session, a long call reports progress and is
cancelled, and when the session ends its sandbox is gone. Prints
"mcp client: N checks passed".
"""

import asyncio
import base64
import io
import json
import os
import re
import subprocess
import sys
import tarfile

import checking
from checking import check
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

SANDBOX_TOOLS = {
    "run_command",
    "exec_command",
    "write_stdin",
    "kill_command",
    "read_file",
    "write_file",
    "list_dir",
    "stat",
    "make_dir",
    "remove",
    "move",
    "extract_archive",
    "snapshot_persist",
    "snapshot_hydrate",
    "snapshot_list",
    "network_get_policy",
    "network_update_policy",
    "expose_port",
    "sandbox_info",
    "sandbox_create",
    "sandbox_attach",
    "sandbox_list",
    "sandbox_delete",
}


async def call(session, name, args, **kw):
    r = await session.call_tool(name, args, **kw)
    return r


async def ok(session, name, args, **kw):
    r = await call(session, name, args, **kw)
    text = r.content[0].text if r.content else ""
    check(not r.is_error, f"{name}({args}) failed: {text}")
    check(
        json.loads(text) == r.structured_content,
        f"{name}: the text content is the structured content as JSON",
    )
    return r.structured_content


async def err(session, name, args, code):
    r = await call(session, name, args)
    check(r.is_error, f"{name}({args}) should have failed")
    got = r.structured_content["error"]["code"]
    check(got == code, f"{name}: expected error {code}, got {got}: {r.content[0].text}")
    check(
        r.content[0].text == r.structured_content["error"]["message"],
        f"{name}: the text is the message",
    )
    return r.structured_content["error"]["message"]


async def exercise(session, config):
    tools = (await session.list_tools()).tools
    names = {t.name for t in tools}
    check(SANDBOX_TOOLS <= names, f"missing tools: {SANDBOX_TOOLS - names}")
    for t in tools:
        check(
            t.description and len(t.description) > 30,
            f"{t.name} has a real description",
        )
        check(t.input_schema.get("type") == "object", f"{t.name} takes an object")
    run = next(t for t in tools if t.name == "run_command")
    check(
        run.input_schema["required"] == ["command"],
        "run_command requires only `command`",
    )
    check(
        "description" in run.input_schema["properties"]["timeout_ms"],
        "fields are described",
    )
    check(
        run.annotations is not None and run.annotations.read_only_hint is False,
        "run_command is not read-only",
    )

    info = await ok(session, "sandbox_info", {})
    sandbox = info["name"]
    check(
        info["owned"] and info["labels"]["openshell-wasm/run"].startswith("mcp-"),
        f"labelled: {info}",
    )

    # Files.
    st = await ok(session, "write_file", {"path": "hello.txt", "content": "hi\n"})
    check(st["size"] == 3 and st["kind"] == "file", f"write_file: {st}")
    check(
        (await ok(session, "read_file", {"path": "hello.txt"}))["content"] == "hi\n",
        "read back",
    )
    raw = bytes([0, 255, 1, 128])
    await ok(
        session,
        "write_file",
        {
            "path": "bin.dat",
            "content": base64.b64encode(raw).decode(),
            "encoding": "base64",
            "mode": "0600",
        },
    )
    msg = await err(session, "read_file", {"path": "bin.dat"}, "invalid_argument")
    check("base64" in msg, f"the error says what to do: {msg}")
    back = await ok(session, "read_file", {"path": "bin.dat", "encoding": "base64"})
    check(base64.b64decode(back["content"]) == raw, "binary round trip")
    check(
        (await ok(session, "stat", {"path": "bin.dat"}))["mode"] == "0600",
        "mode applied",
    )
    await ok(session, "make_dir", {"path": "a/b"})
    await ok(session, "move", {"source": "hello.txt", "destination": "a/b/hello.txt"})
    entries = (await ok(session, "list_dir", {"path": "a/b"}))["entries"]
    check([e["name"] for e in entries] == ["hello.txt"], f"list_dir: {entries}")
    await ok(session, "remove", {"path": "a", "recursive": True})
    await err(session, "stat", {"path": "a"}, "not_found")

    # Commands.
    r = await ok(session, "run_command", {"command": "echo out; echo err >&2; exit 3"})
    check(
        (r["exit_code"], r["stdout"], r["stderr"]) == (3, "out\n", "err\n"),
        f"run_command: {r}",
    )
    r = await ok(
        session,
        "run_command",
        {"command": ["sh", "-c", "cat; pwd"], "stdin": "piped\n", "cwd": "/tmp"},
    )
    check(r["stdout"] == "piped\n/tmp\n", f"argv, stdin, cwd: {r}")
    r = await ok(
        session,
        "run_command",
        {"command": "head -c 100000 /dev/zero | tr '\\0' x", "max_output_bytes": 1000},
    )
    check(
        len(r["stdout"]) == 1000 and r["stdout_truncated"], "output capped and flagged"
    )
    r = await ok(
        session,
        "exec_command",
        {"command": "read line; echo got:$line", "yield_time_ms": 300},
    )
    check(
        r["running"] and "session_id" in r, f"exec_command keeps a waiting command: {r}"
    )
    r = await ok(
        session,
        "write_stdin",
        {"session_id": r["session_id"], "chars": "abc\n", "yield_time_ms": 5000},
    )
    check(
        not r["running"] and r["exit_code"] == 0 and r["output"] == "got:abc\n",
        f"write_stdin: {r}",
    )
    await err(
        session, "write_stdin", {"session_id": 999, "chars": ""}, "invalid_argument"
    )
    r = await ok(
        session,
        "exec_command",
        {"command": "echo started; sleep 60", "yield_time_ms": 500},
    )
    check(r["running"] and r["output"] == "started\n", f"long command: {r}")
    k = await ok(session, "kill_command", {"session_id": r["session_id"]})
    check(k["killed"], f"kill_command: {k}")

    # Archives and snapshots.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"from the archive\n"
        member = tarfile.TarInfo("dir/x.txt")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    s = await ok(
        session,
        "extract_archive",
        {
            "source": {"base64": base64.b64encode(buf.getvalue()).decode()},
            "destination": ".",
        },
    )
    check(s["files"] == 1, f"extract: {s}")
    snap = await ok(session, "snapshot_persist", {"excludes": ["bin.dat"]})
    await ok(session, "remove", {"path": "dir", "recursive": True})
    await ok(session, "snapshot_hydrate", {"id": snap["id"]})
    check(
        (await ok(session, "read_file", {"path": "dir/x.txt"}))["content"]
        == "from the archive\n",
        "hydrated",
    )
    listed = (await ok(session, "snapshot_list", {}))["snapshots"]
    check(snap["id"] in [s["id"] for s in listed], "snapshot listed")

    # What the backend or the policy does not allow: clear errors.
    backend = info["backend"]
    if backend == "local":
        await err(session, "network_get_policy", {}, "unsupported")
        await err(session, "expose_port", {"port": 8080}, "unsupported")
    else:
        rules = "pypi:\n  endpoints:\n    - host: pypi.org\n      ports: [443]\n"
        p = await ok(session, "network_update_policy", {"rules_yaml": rules})
        check(p["state"] == "loaded" and "pypi.org" in p["rules_yaml"], f"update: {p}")
        p = await ok(session, "network_get_policy", {})
        check("pypi.org" in p["rules_yaml"] and p["version"] >= 1, f"get: {p}")
        port = await ok(session, "expose_port", {"port": 8080, "name": "web"})
        check(port["port"] == 8080 and port["url"], f"expose: {port}")
    await err(session, "expose_port", {"port": 9999}, "permission_denied")
    await err(session, "sandbox_attach", {"name": "someone-elses"}, "permission_denied")

    # Another sandbox, made, used, listed and deleted through the tools.
    other = await ok(
        session, "sandbox_create", {"env": {"GREETING": "from the other one"}}
    )
    check(other["owned"] and other["name"] != sandbox, f"sandbox_create: {other}")
    r = await ok(
        session, "run_command", {"command": "echo $GREETING", "sandbox": other["name"]}
    )
    check(r["stdout"] == "from the other one\n", f"a command in the other sandbox: {r}")
    again = await ok(session, "sandbox_attach", {"name": other["name"]})
    check(again["name"] == other["name"], f"sandbox_attach: {again}")
    listed = (await ok(session, "sandbox_list", {}))["sandboxes"]
    names = {s["name"]: s["current"] for s in listed}
    check(
        names.get(sandbox) is True and names.get(other["name"]) is False,
        f"sandbox_list: {listed}",
    )
    await ok(session, "sandbox_delete", {"name": other["name"]})
    check(other["name"] not in sandboxes(config), "sandbox_delete deleted it")
    msg = await err(session, "sandbox_delete", {"name": sandbox}, "permission_denied")
    check(
        "bound" in msg,
        f"the session's own sandbox is not the client's to delete: {msg}",
    )

    # Bad input: each a clear error, and the session keeps serving.
    try:
        await session.call_tool("no_such_tool", {})
        check(False, "an unknown tool is a protocol error")
    except MCPError as e:
        check("no_such_tool" in str(e), f"names the tool: {e}")
    msg = await err(session, "run_command", {"command": 5}, "invalid_argument")
    check("run_command" in msg, f"wrong types: {msg}")
    await err(session, "read_file", {"path": "x", "surprise": 1}, "invalid_argument")
    msg = await err(
        session,
        "write_file",
        {"path": "big", "content": "x" * (9 * 1024 * 1024)},
        "invalid_argument",
    )
    check("byte limit" in msg, f"oversized: {msg}")
    r = await ok(session, "run_command", {"command": "true"})
    check(r["exit_code"] == 0, "still serving")

    # Progress for a long call.
    seen = []

    async def progress(p, total, message):
        seen.append((p, message))

    r = await ok(
        session, "run_command", {"command": "sleep 2.5"}, progress_callback=progress
    )
    check(len(seen) >= 2 and seen[0][1].startswith("run_command"), f"progress: {seen}")

    # Cancellation: the client gives up, the command is killed.
    try:
        await session.call_tool(
            "run_command",
            {"command": "sleep 3; touch too-late"},
            read_timeout_seconds=0.8,
        )
        check(False, "the call should have timed out")
    except MCPError:
        pass
    await asyncio.sleep(3.5)
    await err(session, "stat", {"path": "too-late"}, "not_found")

    # A component as a tool.
    if config.get("component_tool"):
        r = await ok(session, config["component_tool"], {"input": "through mcp"})
        check(r["result"] == "through mcp\n", f"component tool: {r}")
    # A component exporting typed functions: one tool each, schemas from WIT.
    if config.get("typed_prefix"):
        await typed_tools(session, {t.name: t for t in tools}, config["typed_prefix"])
    # Components that trap or spin: a clear error each, and the server goes on.
    for tool, words in (
        (config.get("trap_tool"), "trapped"),
        (config.get("loop_tool"), "CPU"),
    ):
        if tool:
            msg = await err(session, tool, {"input": ""}, "component_failed")
            check(words in msg, f"{tool}: {msg}")
    r = await ok(session, "run_command", {"command": "echo still here"})
    check(
        r["stdout"] == "still here\n",
        "the server keeps serving after failed components",
    )
    return sandbox


async def typed_tools(session, tools, prefix):
    area = tools[prefix + "area"]
    check(
        "area(shape: variant { circle(" in area.description,
        f"the WIT signature describes it: {area.description}",
    )
    check(
        area.description.startswith("The area of a shape, in square units."),
        f"WIT docs: {area.description}",
    )
    version = tools[prefix + "version"].description
    check(
        version.startswith("This component's name and version."),
        f"a world function's docs: {version}",
    )
    props = area.input_schema["properties"]
    check(
        area.input_schema["required"] == ["shape", "unit"],
        f"required: {area.input_schema}",
    )
    unit = {
        "type": "string",
        "enum": ["metres", "feet"],
        "description": "The unit areas are given in.",
    }
    check(props["unit"] == unit, f"enum and type docs: {props['unit']}")
    check(
        props["shape"]["description"].startswith("A shape: a circle"),
        f"a parameter's type docs: {props['shape']}",
    )
    cases = props["shape"]["oneOf"]
    check({"const": "empty"} in cases and len(cases) == 3, f"variant: {cases}")
    render = tools[prefix + "render"].input_schema["properties"]
    check(
        "scale" not in tools[prefix + "render"].input_schema["required"],
        "an option parameter is not required",
    )
    label = render["labels"]["items"]
    check(
        label["properties"]["style"]["items"]["enum"]
        == ["bold", "italic", "underline"],
        f"flags: {label}",
    )
    check(
        label["required"] == ["text", "style"],
        f"an option field is not required: {label}",
    )
    check(
        area.output_schema["properties"]["result"]["anyOf"][0] == {"type": "number"},
        f"output: {area.output_schema}",
    )

    square = [{"x": 0, "y": 0}, {"x": 4, "y": 0}, {"x": 4, "y": 3}]
    r = await ok(
        session, prefix + "area", {"shape": {"polygon": square}, "unit": "metres"}
    )
    check(r["result"] == 6.0, f"area: {r}")
    r = await ok(
        session,
        prefix + "area",
        {"shape": {"circle": [{"x": 1, "y": 1}, 1]}, "unit": "feet"},
    )
    check(abs(r["result"] - 33.815821) < 1e-4, f"circle in square feet: {r}")
    msg = await err(
        session,
        prefix + "area",
        {"shape": "empty", "unit": "metres"},
        "component_failed",
    )
    check("an empty shape has no area" in msg, f"a result's err is the error: {msg}")
    r = await ok(session, prefix + "bounds", {"points": []})
    check(r["result"] is None, f"none: {r}")
    r = await ok(
        session, prefix + "bounds", {"points": [{"x": 3, "y": -1}, {"x": -2, "y": 5}]}
    )
    check(
        r["result"] == [{"x": -2, "y": -1}, {"x": 3, "y": 5}], f"tuple of records: {r}"
    )
    labels = [
        {"text": "a", "style": ["bold"], "at": {"x": 1, "y": 2}},
        {"text": "b", "style": ["italic"], "at": None},
        {"text": "c", "style": []},
    ]
    r = await ok(session, prefix + "render", {"labels": labels, "scale": 3})
    check(r["result"] == ["*a*@3,6", "_b_", "c"], f"render: {r}")
    r = await ok(session, prefix + "version", {})
    check(r["result"] == "typed-tools 1", f"a world-level function: {r}")
    msg = await err(
        session,
        prefix + "area",
        {"shape": {"hexagon": 1}, "unit": "metres"},
        "invalid_argument",
    )
    check("hexagon" in msg and "circle" in msg, f"an unknown case: {msg}")
    msg = await err(session, prefix + "area", {"unit": "metres"}, "invalid_argument")
    check("shape: missing" in msg, f"a missing parameter: {msg}")
    msg = await err(
        session,
        prefix + "bounds",
        {"points": [{"x": 2**40, "y": 0}]},
        "invalid_argument",
    )
    check("out of range" in msg, f"an integer out of range: {msg}")
    msg = await err(session, prefix + "crash", {}, "component_failed")
    check("trapped" in msg, f"a trap: {msg}")


def sandboxes(config):
    out = subprocess.run(
        [config["bin"], "sandbox", "list", "--json", *config["list_args"]],
        capture_output=True,
        check=True,
    )
    return [s["name"] for s in json.loads(out.stdout)]


async def over_stdio(config):
    params = StdioServerParameters(
        command=config["bin"],
        args=["mcp", *config["server_args"]],
        env=dict(os.environ),
    )
    async with (
        stdio_client(params) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        return await exercise(session, config)


def start_http_server(config):
    """`openshell-wasm mcp --listen` on a free port, and the URL it prints."""
    server = subprocess.Popen(
        [config["bin"], "mcp", "--listen", "127.0.0.1:0", *config["server_args"]],
        stderr=subprocess.PIPE,
        text=True,
    )
    line = server.stderr.readline()
    url = re.search(r"listening on (http://\S+)", line)
    check(url, f"the server says where it listens: {line!r}")
    return server, url.group(1)


async def over_http(config):
    server, url = await asyncio.to_thread(start_http_server, config)
    try:
        async with (
            streamable_http_client(url) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            sandbox = await exercise(session, config)
        # The client's DELETE ended the session; its close runs in the
        # background on the server.
        for _ in range(50):
            if sandbox not in sandboxes(config):
                break
            await asyncio.sleep(0.1)
        check(
            sandbox not in sandboxes(config),
            "an HTTP session's sandbox is deleted when it ends",
        )
    finally:
        server.terminate()
        await asyncio.to_thread(server.wait, 30)
    check(
        server.returncode in (0, 143),
        f"the server stops cleanly on SIGTERM: {server.returncode}",
    )
    return sandbox


async def main():
    config = json.loads(sys.argv[1])
    if config["transport"] == "stdio":
        sandbox = await over_stdio(config)
    else:
        sandbox = await over_http(config)
    check(sandbox not in sandboxes(config), "the session's sandbox is gone")
    print(f"mcp client: {checking.passed} checks passed")


asyncio.run(main())
