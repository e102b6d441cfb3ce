"""Drive openshell-testgw with the official OpenShell Python SDK.

Usage: python sdk_proof.py HOST:PORT GENERATION  (GENERATION is 0.0 or 0.1)

Runs the SDK's own calls against our test gateway: health, create, wait
until ready, exec with stdin, environment and workdir, exit codes, timeout,
list (with a label selector), delete and wait until deleted. Any mismatch
raises; success prints one line starting with OK.
"""

import sys

import grpc
import openshell
from checking import check
from openshell import SandboxClient


def main() -> None:
    endpoint, generation = sys.argv[1], sys.argv[2]
    client = SandboxClient(endpoint, timeout=30.0)
    health = client.health()
    check(health.status == 1, f"health status {health.status}")
    check(health.version.startswith(generation + "."), f"gateway version {health.version} for {generation}")

    ref = client.create(workspace="default", labels={"proof": "python-sdk"})
    check(ref.id and ref.name, "create returned an id and a name")
    check(ref.status.phase == 1, f"create returns PROVISIONING, got phase {ref.status.phase}")
    ready = client.wait_ready(ref.name, workspace="default", timeout_seconds=60)
    check(ready.status.phase == 2, f"ready phase {ready.status.phase}")

    # 0.0 addresses exec by id; 0.1 by name plus workspace.
    if generation == "0.0":
        target, scope = ref.id, {}
    else:
        target, scope = ref.name, {"workspace": "default"}

    r = client.exec(target, ["sh", "-c", "echo out; echo err >&2; exit 3"], **scope)
    check((r.exit_code, r.stdout, r.stderr) == (3, "out\n", "err\n"), f"exit/stdout/stderr: {r}")
    r = client.exec(target, ["cat"], stdin=b"bytes on stdin", **scope)
    check((r.exit_code, r.stdout) == (0, "bytes on stdin"), f"stdin: {r}")
    r = client.exec(target, ["sh", "-c", 'printf "%s|%s" "$GREETING" "$(pwd)"'], env={"GREETING": "hi there"}, workdir="/tmp", **scope)
    check(r.stdout == "hi there|/tmp", f"env and workdir: {r}")
    r = client.exec(target, ["no-such-program-here"], **scope)
    check(r.exit_code == 127, f"missing program: {r}")
    r = client.exec(target, ["sleep", "5"], timeout_seconds=1, **scope)
    check(r.exit_code == 124, f"timeout: {r}")
    try:
        client.exec(target, ["printf", "a\nb"], **scope)
        raise AssertionError("an argument with a newline must be refused")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.INVALID_ARGUMENT, f"newline argv: {e.code()}")
    except openshell.SandboxError:
        pass

    # 0.1 pages its lists (`list` yields pages, `list_all` collects them).
    list_all = getattr(client, "list_all", client.list)
    names = [s.name for s in list_all(workspace="default", label_selector="proof=python-sdk")]
    check(ref.name in names, f"label-selected list {names}")
    others = [s.name for s in list_all(workspace="default", label_selector="proof=nothing")]
    check(ref.name not in others, f"selector excludes: {others}")

    deleted = client.delete(ref.name, workspace="default")
    if generation == "0.0":
        check(deleted is True, f"delete returned {deleted}")
    else:
        check(deleted.outcome.name in ("COMPLETED", "ACCEPTED"), f"delete outcome {deleted}")
        check(deleted.sandbox_id == ref.id, f"delete names the sandbox id: {deleted}")
    client.wait_deleted(ref.name, workspace="default", timeout_seconds=30)
    try:
        client.get(ref.name, workspace="default")
        raise AssertionError("a deleted sandbox must be gone")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.NOT_FOUND, f"get after delete: {e.code()}")
    client.close()
    print(f"OK openshell {openshell.__version__ if hasattr(openshell, '__version__') else '?'} against gateway {health.version}")


if __name__ == "__main__":
    main()
