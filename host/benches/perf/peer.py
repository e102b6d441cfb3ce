"""The peer side of figure 7: the official OpenShell Python SDK (0.1.x)
driving the same loops as openshell-wasm against the same test gateway.

Usage: python peer.py ENDPOINT SANDBOX exec|files COUNT

`exec` runs `true` COUNT times. `files` does COUNT rounds of write (1 KiB
through stdin), stat, read, list and remove, one exec each: the SDK has no
file API, so this is how a provider built on it does files. Prints one
JSON line: {"seconds": ...} for the loop alone (after one warm-up round).
"""

import json
import sys
import time

from openshell import SandboxClient


def main() -> None:
    endpoint, sandbox, mode, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    client = SandboxClient(endpoint, timeout=60.0)
    scope = {"workspace": "default"}

    def run(argv, stdin=None):
        kwargs = dict(scope)
        if stdin is not None:
            kwargs["stdin"] = stdin
        r = client.exec(sandbox, argv, **kwargs)
        if r.exit_code != 0:
            raise RuntimeError(f"{argv[0]} exited {r.exit_code}: {r.stderr}")
        return r

    def files_round(i):
        d = "/sandbox/peer"
        p = f"{d}/f{i}.txt"
        body = bytes([ord("a") + i % 26]) * 1024
        run(["sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1"', "sh", p], stdin=body)
        size = int(run(["stat", "-c", "%s", p]).stdout.split()[0])
        if size != 1024:
            raise RuntimeError(f"stat says {size}")
        if len(run(["cat", p]).stdout) != 1024:
            raise RuntimeError("short read")
        if not run(["ls", "-la", d]).stdout:
            raise RuntimeError("empty listing")
        run(["rm", "-f", p])

    step = (lambda i: run(["true"])) if mode == "exec" else files_round
    step(0)
    started = time.perf_counter()
    for i in range(count):
        step(i)
    seconds = time.perf_counter() - started
    client.close()
    print(json.dumps({"seconds": seconds}))


if __name__ == "__main__":
    main()
