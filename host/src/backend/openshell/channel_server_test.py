"""Unit tests of the Python session server (channel_server.py).

`cargo test -p openshell-wasm --lib python_server` runs them, with the
protocol's exit codes and operation names in OW_CODES and OW_OPS as the
host passes them to the server. The tests compare against the server's
codes, never against numbers of their own.

Each operation runs in process against a temporary workspace, with a
directory beside it standing for everything outside; the request framing
and the server's start run it as the host does, in its own process.
"""

import importlib
import os
import stat
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "channel_server.py")

# Set up by setUpModule: the server computes its workspace when imported.
server = None
TMP = None
WORKSPACE = b""
OUTSIDE = b""


def setUpModule():
    global server, TMP, WORKSPACE, OUTSIDE
    if "OW_CODES" not in os.environ or "OW_OPS" not in os.environ:
        raise RuntimeError(
            "run these through `cargo test -p openshell-wasm --lib python_server`, which passes "
            "the protocol's exit codes and operations (OW_CODES, OW_OPS) as the host does"
        )
    TMP = tempfile.TemporaryDirectory()
    base = os.fsencode(os.path.realpath(TMP.name))
    WORKSPACE = base + b"/sandbox"
    OUTSIDE = base + b"/outside"
    os.mkdir(WORKSPACE)
    os.mkdir(OUTSIDE)
    os.environ["OW_ROOT"] = os.fsdecode(WORKSPACE)
    sys.path.insert(0, HERE)
    server = importlib.import_module("channel_server")


def tearDownModule():
    TMP.cleanup()


def frame(rid, op, args=(), data=b""):
    """One request, as `channel::frame` encodes it."""
    out = b"%d %s %d %d\n" % (rid, op, len(args), len(data))
    for a in args:
        out += b"%d\n" % len(a) + a
    return out + data


def replies(out):
    """The banner and the answers `(id, status, stdout, stderr)` in `out`."""
    banner, _, rest = out.partition(b"\n")
    answers = []
    while rest:
        head, _, rest = rest.partition(b"\n")
        tag, rid, rc, olen, elen = head.split(b" ")
        if tag != b"A":
            raise AssertionError("not an answer: " + repr(head))
        o, e = int(olen), int(elen)
        answers.append((int(rid), int(rc), rest[:o], rest[o : o + e]))
        rest = rest[o + e :]
    return banner, answers


def serve(root, requests, **env):
    """Run the server in its own process, as the host does."""
    environ = dict(os.environ, OW_ROOT=os.fsdecode(root), PYTHONDONTWRITEBYTECODE="1")
    environ.update(env)
    return subprocess.run(
        [sys.executable, SERVER], input=requests, env=environ, capture_output=True, timeout=60, check=False
    )


def fields(out):
    """NUL-separated output, without the final terminator."""
    parts = out.split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    return parts


class Case(unittest.TestCase):
    def setUp(self):
        self.d = os.fsencode(tempfile.mkdtemp(dir=WORKSPACE))
        self.out = os.fsencode(tempfile.mkdtemp(dir=OUTSIDE))

    def path(self, *names):
        return b"/".join((self.d, *names))

    def make(self, name, data=b"", mode=0o644):
        p = self.path(name)
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, mode)
        return p

    def link_outside(self, name):
        """A symlink in the workspace to a directory outside it."""
        p = self.path(name)
        os.symlink(self.out, p)
        return p

    def dies(self, code, op, args, data=b""):
        with self.assertRaises(server.Die) as cm:
            op(args, data)
        self.assertEqual(cm.exception.code, code, cm.exception.msg)
        return cm.exception.msg


class Protocol(Case):
    def test_the_operations_are_the_hosts(self):
        self.assertEqual(sorted(server.OPS), sorted(n.encode() for n in os.environ["OW_OPS"].split()))

    def test_the_codes_are_the_hosts(self):
        codes = dict(w.split("=") for w in os.environ["OW_CODES"].split())
        self.assertEqual(server.NOT_FOUND, int(codes["NOT_FOUND"]))
        self.assertEqual(server.TOO_BIG, int(codes["TOO_BIG"]))


class Stat(Case):
    def test_a_file(self):
        p = self.make(b"f", b"hello", 0o640)
        kind, size, mode, mtime, target = fields(server.op_stat([p], b""))
        self.assertEqual((kind, size, mode, target), (b"f", b"5", b"640", b""))
        # As `find -printf %T@` prints it: seconds, a dot, ten digits.
        seconds, fraction = mtime.split(b".")
        ns = os.lstat(p).st_mtime_ns
        self.assertEqual((int(seconds), int(fraction[:9]), len(fraction)), (ns // 10**9, ns % 10**9, 10))

    def test_a_symlink_is_not_followed(self):
        os.symlink(b"a\nb c", self.path(b"l"))
        kind, _, _, _, target = fields(server.op_stat([self.path(b"l")], b""))
        self.assertEqual((kind, target), (b"l", b"a\nb c"))

    def test_the_workspace_itself(self):
        self.assertEqual(fields(server.op_stat([WORKSPACE], b""))[0], b"d")

    def test_missing(self):
        self.dies(server.NOT_FOUND, server.op_stat, [self.path(b"nope")])

    def test_through_a_symlink_to_outside(self):
        open(self.out + b"/secret", "wb").close()
        self.link_outside(b"l")
        self.dies(server.OUTSIDE, server.op_stat, [self.path(b"l", b"secret")])


class List(Case):
    def test_entries(self):
        self.make(b"odd\nname", b"abc", 0o600)
        os.mkdir(self.path(b"sub"))
        out = fields(server.op_list([self.d], b""))
        entries = {out[i]: out[i + 1 : i + 5] for i in range(0, len(out), 5)}
        self.assertEqual(sorted(entries), [b"odd\nname", b"sub"])
        self.assertEqual(entries[b"odd\nname"][:3], [b"f", b"3", b"600"])
        self.assertEqual(entries[b"sub"][0], b"d")

    def test_not_a_directory(self):
        self.dies(server.CONFLICT, server.op_list, [self.make(b"f")])

    def test_missing(self):
        self.dies(server.NOT_FOUND, server.op_list, [self.path(b"nope")])

    def test_a_symlink_to_outside(self):
        self.dies(server.OUTSIDE, server.op_list, [self.link_outside(b"l")])


class Read(Case):
    def test_size_then_bytes(self):
        data = b"A 9 0 3 0\n\x00\xff"
        self.assertEqual(server.op_read([self.make(b"f", data)], b""), b"%d\n" % len(data) + data)

    def test_too_large_for_one_message(self):
        p = self.make(b"f", b"12345")
        self.dies(server.TOO_BIG, server.op_read, [p, b"4"])
        self.assertEqual(server.op_read([p, b"5"], b""), b"5\n12345")
        self.assertEqual(server.op_read([p, b""], b""), b"5\n12345")

    def test_a_directory(self):
        self.dies(server.CONFLICT, server.op_read, [self.d])

    def test_a_fifo_is_refused_without_hanging(self):
        os.mkfifo(self.path(b"p"))
        self.dies(server.CONFLICT, server.op_read, [self.path(b"p")])

    def test_a_symlink_to_a_file_outside(self):
        with open(self.out + b"/secret", "wb") as f:
            f.write(b"secret")
        os.symlink(self.out + b"/secret", self.path(b"l"))
        msg = self.dies(server.OUTSIDE, server.op_read, [self.path(b"l")])
        self.assertNotIn(b"secret\n", msg)

    def test_missing(self):
        self.dies(server.NOT_FOUND, server.op_read, [self.path(b"nope")])


def append(tmp, data):
    """What the upload (its own exec, not the server) does to a streamed
    write's temporary file."""
    with open(tmp, "ab") as f:
        f.write(data)


def write_args(p, size, parents=b"0", exclusive=b"0", mode=b"600"):
    return [p, parents, exclusive, mode, b"%d" % size]


class Write(Case):
    def temps(self, d=None):
        return [n for n in os.listdir(d or self.d) if n.startswith(b".ow-tmp-")]

    def test_whole(self):
        p = self.path(b"f")
        out = server.op_write(write_args(p, 5), b"hello")
        self.assertEqual(fields(out)[:3], [b"f", b"5", b"600"])
        with open(p, "rb") as f:
            self.assertEqual(f.read(), b"hello")
        self.assertEqual(stat.S_IMODE(os.stat(p).st_mode), 0o600)
        self.assertEqual(self.temps(), [])

    def test_a_short_write_commits_nothing(self):
        p = self.path(b"f")
        self.dies(server.CORRUPT, server.op_write, write_args(p, 6), b"hello")
        self.assertFalse(os.path.lexists(p))
        self.assertEqual(self.temps(), [])

    def test_exclusive_never_replaces(self):
        p = self.make(b"f", b"old")
        self.dies(server.CONFLICT, server.op_write, write_args(p, 3, exclusive=b"1"), b"new")
        with open(p, "rb") as f:
            self.assertEqual(f.read(), b"old")
        self.assertEqual(self.temps(), [])

    def test_over_a_directory(self):
        os.mkdir(self.path(b"sub"))
        self.dies(server.CONFLICT, server.op_write, write_args(self.path(b"sub"), 1), b"x")

    def test_creates_parents(self):
        p = self.path(b"a", b"b", b"f")
        server.op_write(write_args(p, 1, parents=b"1"), b"x")
        self.assertTrue(os.path.isfile(p))

    def test_parents_outside_are_refused(self):
        self.link_outside(b"l")
        p = self.path(b"l", b"sub", b"f")
        self.dies(server.OUTSIDE, server.op_write, write_args(p, 1, parents=b"1"), b"x")
        self.assertEqual(os.listdir(self.out), [])

    def test_into_a_directory_outside(self):
        self.link_outside(b"l")
        self.dies(server.OUTSIDE, server.op_write, write_args(self.path(b"l", b"f"), 1), b"x")
        self.assertEqual(os.listdir(self.out), [])

    def test_streamed(self):
        p = self.path(b"f")
        tmp = fields(server.op_write_open(write_args(p, 0)[:4], b""))[0]
        self.assertEqual(os.path.dirname(tmp), self.d)
        append(tmp, b"hel")
        append(tmp, b"lo")
        out = server.op_write_finish(write_args(p, 5) + [tmp], b"")
        self.assertEqual(fields(out)[:2], [b"f", b"5"])
        with open(p, "rb") as f:
            self.assertEqual(f.read(), b"hello")
        self.assertEqual(self.temps(), [])

    def test_streamed_short(self):
        p = self.path(b"f")
        tmp = fields(server.op_write_open(write_args(p, 0)[:4], b""))[0]
        append(tmp, b"hel")
        self.dies(server.CORRUPT, server.op_write_finish, write_args(p, 5) + [tmp])
        self.assertFalse(os.path.lexists(p))
        self.assertEqual(self.temps(), [])

    def test_streamed_abort(self):
        tmp = fields(server.op_write_open(write_args(self.path(b"f"), 0)[:4], b""))[0]
        self.assertEqual(len(self.temps()), 1)
        server.op_write_abort([tmp], b"")
        self.assertEqual(self.temps(), [])
        self.dies(server.NOT_FOUND, server.op_write_finish, write_args(self.path(b"f"), 0) + [tmp])

    def test_only_temporary_files_are_finished(self):
        p = self.make(b"f", b"keep")
        self.dies(server.INVALID, server.op_write_finish, write_args(self.path(b"g"), 4) + [p])
        server.op_write_abort([p], b"")
        self.assertTrue(os.path.exists(p))


class Mkdir(Case):
    def test_one(self):
        server.op_mkdir([self.path(b"sub"), b"0"], b"")
        self.assertTrue(os.path.isdir(self.path(b"sub")))
        self.dies(server.CONFLICT, server.op_mkdir, [self.path(b"sub"), b"0"])

    def test_parents(self):
        server.op_mkdir([self.path(b"a", b"b"), b"1"], b"")
        server.op_mkdir([self.path(b"a", b"b"), b"1"], b"")
        self.assertTrue(os.path.isdir(self.path(b"a", b"b")))
        self.dies(server.NOT_FOUND, server.op_mkdir, [self.path(b"x", b"y"), b"0"])

    def test_outside(self):
        self.link_outside(b"l")
        self.dies(server.OUTSIDE, server.op_mkdir, [self.path(b"l", b"a", b"b"), b"1"])
        self.dies(server.OUTSIDE, server.op_mkdir, [self.path(b"l", b"a"), b"0"])
        self.assertEqual(os.listdir(self.out), [])


class Remove(Case):
    def test_a_file_and_an_empty_directory(self):
        server.op_remove([self.make(b"f"), b"0"], b"")
        os.mkdir(self.path(b"sub"))
        server.op_remove([self.path(b"sub"), b"0"], b"")
        self.assertEqual(os.listdir(self.d), [])

    def test_a_tree(self):
        os.makedirs(self.path(b"a", b"b"))
        self.make(b"a/b/f")
        self.dies(server.CONFLICT, server.op_remove, [self.path(b"a"), b"0"])
        server.op_remove([self.path(b"a"), b"1"], b"")
        self.assertEqual(os.listdir(self.d), [])

    def test_a_symlink_not_what_it_points_to(self):
        open(self.out + b"/keep", "wb").close()
        server.op_remove([self.link_outside(b"l"), b"1"], b"")
        self.assertFalse(os.path.lexists(self.path(b"l")))
        self.assertEqual(os.listdir(self.out), [b"keep"])

    def test_through_a_symlink_to_outside(self):
        open(self.out + b"/keep", "wb").close()
        self.link_outside(b"l")
        self.dies(server.OUTSIDE, server.op_remove, [self.path(b"l", b"keep"), b"0"])
        self.assertEqual(os.listdir(self.out), [b"keep"])

    def test_missing(self):
        self.dies(server.NOT_FOUND, server.op_remove, [self.path(b"nope"), b"0"])


class Rename(Case):
    def test_a_file(self):
        server.op_rename([self.make(b"a", b"x"), self.path(b"b")], b"")
        self.assertEqual(os.listdir(self.d), [b"b"])

    def test_missing(self):
        self.dies(server.NOT_FOUND, server.op_rename, [self.path(b"nope"), self.path(b"b")])

    def test_a_file_over_a_directory(self):
        os.mkdir(self.path(b"sub"))
        self.dies(server.CONFLICT, server.op_rename, [self.make(b"f"), self.path(b"sub")])

    def test_to_outside(self):
        self.link_outside(b"l")
        self.dies(server.OUTSIDE, server.op_rename, [self.make(b"f"), self.path(b"l", b"f")])
        self.assertEqual(os.listdir(self.out), [])


class Realpath(Case):
    def test_resolves_symlinks(self):
        os.mkdir(self.path(b"sub"))
        os.symlink(b"sub", self.path(b"l"))
        self.assertEqual(server.op_realpath([self.path(b"l")], b""), self.path(b"sub") + b"\0")

    def test_outside(self):
        self.dies(server.OUTSIDE, server.op_realpath, [self.link_outside(b"l")])

    def test_missing(self):
        self.dies(server.NOT_FOUND, server.op_realpath, [self.path(b"nope")])


class Chmod(Case):
    def test_a_file(self):
        p = self.make(b"f", mode=0o600)
        server.op_chmod([p, b"751"], b"")
        self.assertEqual(stat.S_IMODE(os.stat(p).st_mode), 0o751)

    def test_a_symlink(self):
        os.symlink(self.make(b"f"), self.path(b"l"))
        self.dies(server.INVALID, server.op_chmod, [self.path(b"l"), b"600"])

    def test_outside(self):
        with open(self.out + b"/secret", "wb") as f:
            f.write(b"x")
        os.chmod(self.out + b"/secret", 0o600)
        self.link_outside(b"l")
        self.dies(server.OUTSIDE, server.op_chmod, [self.path(b"l", b"secret"), b"666"])
        self.assertEqual(stat.S_IMODE(os.stat(self.out + b"/secret").st_mode), 0o600)


class Tree(Case):
    def test_list_tree_stays_below_symlinks(self):
        os.makedirs(self.path(b"a", b"b"))
        self.make(b"a/b/f")
        open(self.out + b"/secret", "wb").close()
        self.link_outside(b"l")
        out = sorted(fields(server.op_list_tree([self.d], b"")))
        self.assertEqual(out, [b"a", b"a/b", b"a/b/f", b"l"])
        self.assertEqual(server.op_list_tree([self.path(b"nope")], b""), b"")

    def test_list_tree_outside(self):
        self.dies(server.OUTSIDE, server.op_list_tree, [self.link_outside(b"l")])

    def test_remove_list(self):
        os.makedirs(self.path(b"a", b"b"))
        self.make(b"a/b/f")
        self.make(b"keep")
        server.op_remove_list([self.d], b"a\0gone\0")
        self.assertEqual(os.listdir(self.d), [b"keep"])

    def test_remove_list_never_follows_a_symlinked_directory(self):
        open(self.out + b"/keep", "wb").close()
        self.link_outside(b"l")
        self.dies(1, server.op_remove_list, [self.d], b"l/keep\0")
        self.assertEqual(os.listdir(self.out), [b"keep"])


class Framing(unittest.TestCase):
    """The server in its own process, as the host runs it."""

    def setUp(self):
        self.root = os.fsencode(tempfile.mkdtemp(dir=WORKSPACE))

    def test_pipelined_requests_are_answered_in_order(self):
        p = self.root + b"/odd name\nA 1 0 0 0\n.txt"
        content = b"A 99 0 3 0\nfake\x00\xff"
        requests = (
            frame(1, b"write", write_args(p, len(content), mode=b"644"), content)
            + frame(2, b"read", [p])
            + frame(3, b"nope")
            + frame(4, b"chmod", [p, b"not octal"])
            + frame(5, b"stat")
            + frame(6, b"realpath", [self.root])
        )
        run = serve(self.root, requests)
        self.assertEqual(run.returncode, 0, run.stderr)
        banner, answers = replies(run.stdout)
        self.assertEqual(banner, b"OWCH1 py")
        self.assertEqual([(a[0], a[1]) for a in answers], [(1, 0), (2, 0), (3, server.INVALID), (4, 1), (5, 1), (6, 0)])
        self.assertEqual(answers[1][2], b"%d\n" % len(content) + content)
        self.assertEqual(answers[2][3], b"unknown operation nope\n")
        self.assertEqual(answers[5][2], self.root + b"\0")

    def test_a_malformed_header_ends_the_server(self):
        run = serve(self.root, b"1 stat x 0\n")
        self.assertEqual(run.returncode, server.INVALID)
        run = serve(self.root, b"1 stat\n")
        self.assertEqual(run.returncode, server.INVALID)

    def test_end_of_input_mid_request_ends_the_server(self):
        run = serve(self.root, b"1 stat 1 0\n10\nshort")
        self.assertEqual(run.returncode, 0)
        self.assertEqual(replies(run.stdout), (b"OWCH1 py", []))

    def test_a_missing_workspace(self):
        run = serve(self.root + b"/nope", b"")
        self.assertEqual(run.returncode, server.NOT_FOUND)
        self.assertIn(b"does not exist", run.stderr)

    def test_an_operation_it_lacks_hands_over_to_the_shell(self):
        run = serve(self.root, b"", OW_OPS=os.environ["OW_OPS"] + " from_the_future")
        self.assertEqual(run.returncode, server.USE_SHELL)
        self.assertEqual(run.stdout, b"")
        self.assertIn(b"from_the_future", run.stderr)


if __name__ == "__main__":
    unittest.main()
