# The session channel's request loop in Python 3.10+, used when the sandbox
# has it: every operation runs in this one process, without the forks of
# coreutils the shell loop needs (a fork and exec cost about a millisecond
# each, and a small file operation needs several).
#
# Same framing as the shell loop (see `script::SERVER_LOOP`), same
# operations, same exit codes, messages and output formats as the scripts
# in `script.rs`: the host cannot tell them apart, and the conformance
# suite checks that. Paths are bytes end to end (a file name may hold any
# byte but `/` and NUL). No operation changes the working directory or the
# environment, and an unexpected exception fails that operation only, so
# nothing leaks between operations.

import os
import shutil
import stat
import sys
import tempfile

if sys.version_info < (3, 10):
    # `realpath(strict=True)` needs 3.10; the shell loop takes over.
    sys.exit(3)


class Die(Exception):
    def __init__(self, code, msg=b""):
        self.code = code
        self.msg = msg


def die(code, *parts):
    raise Die(code, b"".join(p if isinstance(p, bytes) else p.encode() for p in parts))


def real_e(p):
    """`realpath -e`: every component must exist."""
    try:
        return os.path.realpath(p, strict=True)
    except (OSError, ValueError):
        return None


def real_m(p):
    """`realpath -m`: missing components are fine."""
    return os.path.realpath(p)


try:
    ROOT = os.path.realpath(os.fsencode(os.environ["OW_ROOT"]), strict=True)
except (KeyError, OSError):
    sys.stderr.write("the workspace %s does not exist\n" % os.environ.get("OW_ROOT", ""))
    sys.exit(44)


def inside(p):
    return p == ROOT or p.startswith(ROOT + b"/")


def parent_of(p):
    """Real parent and last component of `p`, the parent inside."""
    d, _, b = p.rpartition(b"/")
    if not _:
        d = p
    if not d:
        d = b"/"
    rd = real_e(d)
    if rd is None:
        die(44, d, b" does not exist")
    if not inside(rd):
        die(45, p, b" leads outside the workspace")
    return rd, b


def exists(p):
    return os.path.lexists(p)


def kind(mode):
    for test, c in (
        (stat.S_ISREG, b"f"),
        (stat.S_ISDIR, b"d"),
        (stat.S_ISLNK, b"l"),
        (stat.S_ISBLK, b"b"),
        (stat.S_ISCHR, b"c"),
        (stat.S_ISFIFO, b"p"),
        (stat.S_ISSOCK, b"s"),
    ):
        if test(mode):
            return c
    return b"U"


def mtime(st):
    ns = st.st_mtime_ns
    return b"%d.%09d0" % (ns // 1_000_000_000, ns % 1_000_000_000)


def stat_fields(path, st):
    """find's `%y %s %m %T@` of an lstat."""
    return [kind(st.st_mode), b"%d" % st.st_size, b"%o" % (st.st_mode & 0o7777), mtime(st)]


def stat_of(path):
    st = os.lstat(path)
    target = os.readlink(path) if stat.S_ISLNK(st.st_mode) else b""
    return b"\0".join(stat_fields(path, st) + [target]) + b"\0"


def resolved(p, what=b" does not exist"):
    t = real_e(p)
    if t is None:
        die(44, p, what)
    if not inside(t):
        die(45, p, b" leads outside the workspace")
    return t


def op_stat(a, _in):
    p = a[0]
    if p == os.fsencode(os.environ["OW_ROOT"]):
        t = ROOT
    else:
        rd, b = parent_of(p)
        t = rd + b"/" + b
    if not exists(t):
        die(44, p, b" does not exist")
    return stat_of(t)


def op_list(a, _in):
    p = a[0]
    t = resolved(p)
    if not os.path.isdir(t):
        die(46, p, b" is not a directory")
    out = []
    with os.scandir(t) as it:
        for e in it:
            st = e.stat(follow_symlinks=False)
            out.append(b"\0".join([e.name] + stat_fields(e.path, st)) + b"\0")
    return b"".join(out)


def op_read(a, _in):
    p = a[0]
    t = resolved(p)
    if os.path.isdir(t):
        die(46, p, b" is a directory")
    if not os.path.isfile(t):
        die(46, p, b" is not a regular file")
    try:
        with open(t, "rb") as f:
            before = os.fstat(f.fileno())
            if len(a) > 1 and a[1] and before.st_size > int(a[1]):
                die(49, p, b" is too large for one message")
            data = f.read()
            after = os.fstat(f.fileno())
    except OSError:
        die(46, b"cannot read ", p)
    same = (before.st_dev, before.st_ino, before.st_size, before.st_mtime_ns) == (
        after.st_dev,
        after.st_ino,
        after.st_size,
        after.st_mtime_ns,
    )
    if not same or len(data) != before.st_size:
        die(48, p, b" changed while it was read; read it again")
    return b"%d\n" % len(data) + data


def write_prepare(a):
    p, parents, excl = a[0], a[1], a[2]
    if parents == b"1":
        d = p.rpartition(b"/")[0] or b"/"
        if not inside(real_m(d)):
            die(45, p, b" leads outside the workspace")
        try:
            os.makedirs(d, exist_ok=True)
        except OSError:
            die(46, b"cannot create the parent of ", p)
    rd, b = parent_of(p)
    t = rd + b"/" + b
    if os.path.isdir(t) and not os.path.islink(t):
        die(46, p, b" is a directory")
    if excl == b"1" and exists(t):
        die(46, p, b" already exists")
    try:
        fd, tmp = tempfile.mkstemp(prefix=b".ow-tmp-", dir=rd)
    except OSError:
        die(46, b"cannot create a file in the parent of ", p)
    os.close(fd)
    return p, t, tmp


def write_commit(a, p, t, tmp):
    excl, mode, size = a[2], a[3], a[4]
    n = os.stat(tmp).st_size
    if b"%d" % n != size:
        remove_quietly(tmp)
        die(48, p, b": %d of " % n, size, b" bytes arrived; nothing was written")
    os.chmod(tmp, int(mode, 8))
    if excl == b"1":
        try:
            os.link(tmp, t)
        except OSError:
            remove_quietly(tmp)
            die(46, p, b" already exists")
        remove_quietly(tmp)
    else:
        try:
            os.rename(tmp, t)
        except OSError:
            remove_quietly(tmp)
            die(46, b"cannot replace ", p)
    return stat_of(t)


def remove_quietly(p):
    try:
        os.unlink(p)
    except OSError:
        pass


def op_write(a, data):
    p, t, tmp = write_prepare(a)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
    except OSError as e:
        remove_quietly(tmp)
        die(1, str(e))
    return write_commit(a, p, t, tmp)


def op_write_open(a, _in):
    _, _, tmp = write_prepare(a)
    return tmp + b"\0"


def in_progress(tmp):
    if b"/.ow-tmp-" not in tmp:
        die(47, b"not a write in progress")
    if not os.path.isfile(tmp):
        die(44, b"the write in progress was lost")


def op_write_append(a, data):
    in_progress(a[0])
    with open(a[0], "ab") as f:
        f.write(data)
    return b""


def op_write_finish(a, _in):
    tmp = a[5]
    in_progress(tmp)
    rd, b = parent_of(a[0])
    return write_commit(a, a[0], rd + b"/" + b, tmp)


def op_write_abort(a, _in):
    if b"/.ow-tmp-" in a[0]:
        remove_quietly(a[0])
    return b""


def op_mkdir(a, _in):
    p = a[0]
    if a[1] == b"1":
        m = real_m(p)
        if not inside(m):
            die(45, p, b" leads outside the workspace")
        if os.path.isdir(m):
            return b""
        try:
            os.makedirs(p, exist_ok=True)
        except OSError:
            die(46, b"cannot create ", p, b" (a component is not a directory?)")
    else:
        rd, b = parent_of(p)
        t = rd + b"/" + b
        if exists(t):
            die(46, p, b" already exists")
        try:
            os.mkdir(t)
        except OSError:
            die(46, b"cannot create ", p)
    return b""


def op_remove(a, _in):
    p = a[0]
    rd, b = parent_of(p)
    t = rd + b"/" + b
    if not exists(t):
        die(44, p, b" does not exist")
    if os.path.isdir(t) and not os.path.islink(t):
        if a[1] == b"1":
            shutil.rmtree(t)
        else:
            try:
                os.rmdir(t)
            except OSError:
                die(46, p, b" is a non-empty directory; remove it with recursive")
    else:
        os.unlink(t)
    return b""


def op_rename(a, _in):
    rd, b = parent_of(a[0])
    s = rd + b"/" + b
    if not exists(s):
        die(44, a[0], b" does not exist")
    rd, b = parent_of(a[1])
    t = rd + b"/" + b
    # `mv -T` refuses to put a non-directory over a directory, which
    # rename(2) allows for an empty one.
    if os.path.isdir(t) and not os.path.islink(t) and not (os.path.isdir(s) and not os.path.islink(s)):
        die(46, b"cannot rename ", a[0], b" to ", a[1])
    try:
        os.rename(s, t)
    except OSError:
        die(46, b"cannot rename ", a[0], b" to ", a[1])
    return b""


def op_realpath(a, _in):
    return resolved(a[0]) + b"\0"


def op_chmod(a, _in):
    p = a[0]
    if os.path.islink(p):
        die(47, p, b" is a symlink; symlinks have no permissions of their own")
    t = resolved(p)
    os.chmod(t, int(a[1], 8))
    return b""


def op_list_tree(a, _in):
    t = real_m(a[0])
    if not inside(t):
        die(45, a[0], b" leads outside the workspace")
    if not os.path.isdir(t):
        return b""
    out = []
    for d, dirs, files in os.walk(t, followlinks=False):
        rel = os.path.relpath(d, t)
        for n in dirs + files:
            out.append(n if rel == b"." else rel + b"/" + n)
    return b"\0".join(out) + (b"\0" if out else b"")


def op_remove_list(a, data):
    t = resolved(a[0])
    failed = []
    for rel in data.split(b"\0"):
        if not rel:
            continue
        full = t + b"/" + rel
        # Never through a symlink swapped in since the listing.
        if not inside(real_e(os.path.dirname(full)) or b""):
            continue
        try:
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full)
            elif exists(full):
                os.unlink(full)
        except OSError as e:
            failed.append(rel + b": " + os.fsencode(e.strerror or "error"))
    if failed:
        die(1, b"cannot remove " + b"; ".join(failed))
    return b""


OPS = {
    b"stat": op_stat,
    b"list": op_list,
    b"read": op_read,
    b"write": op_write,
    b"write_open": op_write_open,
    b"write_append": op_write_append,
    b"write_finish": op_write_finish,
    b"write_abort": op_write_abort,
    b"mkdir": op_mkdir,
    b"remove": op_remove,
    b"rename": op_rename,
    b"realpath": op_realpath,
    b"chmod": op_chmod,
    b"list_tree": op_list_tree,
    b"remove_list": op_remove_list,
}

def read_exact(inp, n):
    buf = inp.read(n) if n else b""
    if len(buf) != n:
        sys.exit(0)
    return buf


def number(field):
    if not field or not field.isdigit():
        sys.exit(47)
    return int(field)


def main():
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    out.write(b"OWCH1 py\n")
    out.flush()
    while True:
        line = inp.readline()
        if not line:
            return
        fields = line.rstrip(b"\n").split(b" ")
        if len(fields) != 4:
            sys.exit(47)
        rid, op, argc, inlen = fields[0], fields[1], number(fields[2]), number(fields[3])
        args = []
        for _ in range(argc):
            args.append(read_exact(inp, number(inp.readline().rstrip(b"\n"))))
        data = read_exact(inp, inlen)
        fn = OPS.get(op)
        if fn is None:
            rc, o, e = 47, b"", b"unknown operation " + op + b"\n"
        else:
            try:
                rc, o, e = 0, fn(args, data), b""
            except Die as d:
                rc, o, e = d.code, b"", (d.msg + b"\n" if d.msg else b"")
            except (OSError, ValueError, IndexError) as x:
                rc, o, e = 1, b"", os.fsencode(str(x)) + b"\n"
        out.write(b"A %s %d %d %d\n" % (rid, rc, len(o), len(e)))
        out.write(o)
        out.write(e)
        out.flush()


if __name__ == "__main__":
    main()
