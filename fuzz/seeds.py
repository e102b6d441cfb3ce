#!/usr/bin/env python3
"""Write the hand-made seed inputs of every fuzz target.

    python3 fuzz/seeds.py [OUT_DIR]     # default: fuzz/corpus

Each target gets valid inputs and near-valid ones (the shapes an attacker
would try), so the fuzzer starts deep inside each parser instead of
rediscovering its syntax. Files go to OUT_DIR/<target>/seed-<name>; running
it again rewrites them. `scripts/fuzz.sh cmin` later minimizes the seeds
together with what fuzzing found, and the minimized set is what is checked
in; `regression-*` inputs (reproducers of fixed bugs) are kept as they are.
Generated rather than hand-made in a hex editor, so the seeds can be
reviewed here.
"""

import gzip
import io
import os
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Small components the test build makes (tests/test-programs): an agent
# with no imports, and one that imports WASI and the sandbox interfaces (so
# linking is exercised too). Larger ones would bloat the checked-in corpus.
GUESTS = ROOT / "target/guest/wasm32-wasip2/guest/examples"
COMPONENTS = {"limits-loop": GUESTS / "limits_loop.wasm", "smoke-echo": GUESTS / "smoke_echo.wasm"}


def tar(members, fmt=tarfile.GNU_FORMAT):
    """A tar archive of `members`: (name, type, data-or-linkname, extra)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for name, kind, payload, extra in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.mode = extra.get("mode", 0o644)
            info.mtime = extra.get("mtime", 1_700_000_000)
            info.pax_headers = extra.get("pax", {})
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = payload
                payload = b""
            if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
                info.devmajor, info.devminor = 1, 3
            info.size = len(payload)
            t.addfile(info, io.BytesIO(payload) if payload else None)
    # tarfile pads to a 10 KiB record; keep just the two end-of-archive
    # blocks, so seeds stay small (every reader accepts that).
    data = buf.getvalue()
    while data.endswith(b"\0" * 512):
        data = data[:-512]
    return data + b"\0" * 1024


def archive_seeds():
    f, d, s, h = tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
    no = {}
    clean = tar([("./", d, b"", no), ("a/", d, b"", {"mode": 0o755}), ("a/b.txt", f, b"hello\n", no),
                 ("a/link", s, "b.txt", no), ("up", s, "a", no), ("a/c/up", s, "../../a/b.txt", no), ("c/d/e", f, b"x" * 700, {"mode": 0o4755})])
    long = "d/" + "n" * 120 + "/file"
    return {
        "clean": clean,
        "clean-gzip": gzip.compress(clean, mtime=0),
        "clean-pax": tar([(long, f, b"pax", {"mtime": 2**40}), ("l", s, "d/" + "t" * 110, no)], tarfile.PAX_FORMAT),
        "clean-ustar": tar([("a", d, b"", no), ("a/x", f, b"", no)], tarfile.USTAR_FORMAT),
        "long-gnu": tar([(long, f, b"gnu", no)]),
        "dotdot": tar([("../escape", f, b"x", no)]),
        "dotdot-inner": tar([("a/../../escape", f, b"x", no)]),
        "absolute": tar([("/etc/passwd", f, b"root", no)]),
        "backslash": tar([("a\\b", f, b"x", no)]),
        "symlink-absolute": tar([("l", s, "/etc", no)]),
        "symlink-escape": tar([("a/l", s, "../../x", no)]),
        "symlink-climb-after-name": tar([("a/l", s, "b/../..", no)]),
        "below-symlink": tar([("l", s, "a", no), ("l/x", f, b"x", no)]),
        "replace-symlink": tar([("l", s, "a", no), ("l", f, b"x", no)]),
        "hardlink": tar([("a", f, b"x", no), ("b", h, "a", no)]),
        "chardev": tar([("null", tarfile.CHRTYPE, b"", no)]),
        "blockdev": tar([("sda", tarfile.BLKTYPE, b"", no)]),
        "fifo": tar([("p", tarfile.FIFOTYPE, b"", no)]),
        "truncated": clean[: 512 + 100],
        "gzip-truncated": gzip.compress(clean, mtime=0)[:60],
        "empty": b"",
        "zero-blocks": b"\0" * 1024,
        # A PAX link path can hold a NUL byte that no plain header can; the
        # check once passed it and the clean copy then failed half way.
        "regression-pax-nul-linkpath": tar([("l", s, "x", {"pax": {"linkpath": "a\0b"}})], tarfile.PAX_FORMAT),
    }


def member_name_seeds():
    names = ["a/b/c", "./a//b/./c", ".", "./", "../x", "a/../../x", "/etc/passwd", "a\\b", "a/./..", "\xff".encode("latin-1")]
    return {f"name-{i}": n if isinstance(n, bytes) else n.encode() for i, n in enumerate(names)}


def guest_path_seeds():
    # A path, then optionally a newline and a policy prefix.
    cases = ["a/b", "/sandbox/x\n.", "../../etc/passwd\n.", "/tmp/x\n/tmp", "a/./b//c\nsub/..", "/\n/", "x\0y",
             "..\n..", "/sandbox2/x\n/sandbox", "\n"]
    return {f"path-{i}": c.encode() for i, c in enumerate(cases)}


def policy_seeds():
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```toml\nversion = 1")
    full = readme[start + len("```toml\n"): readme.index("```", start + 7)]
    seeds = {"readme": full}
    for src in sorted(ROOT.glob("guest-examples/*/policy.toml")):
        seeds[f"example-{src.parent.name}"] = src.read_text()
    seeds.update({
        "version-2": "version = 2\n",
        "memory-tiny": '[guest]\nmemory = "1 KiB"\n',
        "memory-huge": '[guest]\nmemory = "5 GiB"\n',
        "size-float": '[exec]\nmax-output = "1.5 MiB"\n',
        "size-bad-unit": '[fs]\nmax-read = "12 parsecs"\n',
        "duration-odd": '[guest]\ncpu-time = "1h2m3.5s"\nwall-time = "0s"\n',
        "grants": '[host]\nenv = ["HOME"]\ndirs = [{ host = "./data", guest = "/data", write = true }]\n'
                  'tcp-connect = ["127.0.0.1:8080", "[::1]:*"]\n[exec]\nallow = ["git", "/usr/bin/*"]\n',
        "sandbox": '[sandbox]\ncreate = true\nattach = ["dev-*"]\nmax-created = 0\nimage = "python:3.12"\n',
        "unknown-key": "[guest]\nmemroy = 1\n",
        "wrong-type": "[fs]\nread = 3\n",
        "syntax-error": "[guest\nmemory = ",
    })
    return {k: v.encode() for k, v in seeds.items()}


def session_replies_seeds():
    return {
        "one": b"A 1 0 5 0\nhello",
        "two": b"A 1 0 5 0\nhelloA 2 1 0 3\nbad",
        "stderr": b"A 7 2 0 11\nno such file",
        "partial": b"A 3 0 100 0\nonly a little",
        "incomplete-header": b"A 4 0 1",
        "negative-code": b"A 1 -1 0 0\n",
        "huge-length": b"A 1 0 18446744073709551615 18446744073709551615\n",
        "garbage": b"B 1 0 0 0\n",
        "not-utf8": b"A \xff 0 0 0\n",
    }


def session_request_seeds():
    # The op, then NUL-separated arguments.
    cases = [b"stat\0/sandbox/a", b"list\0/sandbox", b"write\0/sandbox/f\x001\x000\x00644",
             b"rename\0/a\0/b\nwith newline", b"read\0\0", b"mkdir\0caf\xc3\xa9"]
    return {f"req-{i}": c for i, c in enumerate(cases)}


def exec_output_seeds():
    return {
        "stat-file": b"f\x0012\x00644\x001700000000.5000000000\x00\x00",
        "stat-dir": b"d\x004096\x00755\x001700000000.0000000000\x00\x00",
        "stat-symlink": b"l\x007\x00777\x001700000000\x00target\x00",
        "stat-setuid": b"f\x000\x0047777\x00-1.5\x00\x00",
        "stat-short": b"f\x0012\x00644",
        "stat-bad-mode": b"f\x0012\x00999\x000\x00\x00",
        "stat-nan": b"f\x0012\x00644\x00nan\x00\x00",
        "list": b"b\x00f\x001\x00644\x001.0\x00a\x00d\x000\x00755\x002.0\x00",
        "list-odd": b"a\x00f\x001\x00644\x00",
        "list-dup": b"x\x00f\x001\x00644\x001\x00x\x00l\x000\x00777\x001\x00",
        "empty": b"",
    }


def component_seeds():
    seeds = {
        "empty-component": b"\0asm\x0d\x00\x01\x00",
        "core-module": b"\0asm\x01\x00\x00\x00",
        "bad-version": b"\0asm\x0e\x00\x01\x00",
    }
    for name, path in COMPONENTS.items():
        if path.exists():
            seeds[name] = path.read_bytes()
        else:
            print(f"note: {path} is not built (cargo test builds it); skipping that seed", file=sys.stderr)
    return seeds


TARGETS = {
    "archive": archive_seeds,
    "member_name": member_name_seeds,
    "guest_path": guest_path_seeds,
    "policy": policy_seeds,
    "session_replies": session_replies_seeds,
    "session_request": session_request_seeds,
    "exec_output": exec_output_seeds,
    "component": component_seeds,
}


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "fuzz/corpus"
    for target, make in TARGETS.items():
        d = out / target
        os.makedirs(d, exist_ok=True)
        seeds = make()
        for name, data in seeds.items():
            # Reproducers of fixed bugs keep their name through minimizing.
            (d / (name if name.startswith("regression-") else f"seed-{name}")).write_bytes(data)
        print(f"{target}: {len(seeds)} seeds in {d}", file=sys.stderr)


if __name__ == "__main__":
    main()
