# The session channel's request loop in Python 3.10+, used when the sandbox
# has it: every operation runs in this one process, without the forks of
# coreutils the shell loop needs (a fork and exec cost about a millisecond
# each, and a small file operation needs several).
#
# Same framing as the shell loop (see `script::SERVER_LOOP`), same
# operations, same exit codes, messages and output formats as the scripts
# in `scripts/`: the host cannot tell them apart, and the conformance
# suite checks that. The protocol is defined once, in `script.rs`: the
# host passes the exit codes (OW_CODES) and the names of the operations
# to serve (OW_OPS) in the environment, and this server hands over to the
# shell server when it lacks one of them. Paths are bytes end to end (a
# file name may hold any byte but `/` and NUL). No operation changes the
# working directory or the environment, and an unexpected exception fails
# that operation only, so nothing leaks between operations.
#
# Paths are checked and then used without a window in between: every
# operation works through a descriptor of the directory it acts in, opened
# without following a final symlink and checked (through /proc/self/fd) to
# be inside the workspace, and acts on the last component relative to it
# without following symlinks. A process in the sandbox that swaps a file or
# a directory for a symlink between the check and the use therefore cannot
# make an operation read, write, change or remove anything outside.
#
# Unit tests: channel_server_test.py, which host/tests/all/session_server.rs
# runs.

import errno
import os
import shutil
import stat
import sys

# The exit codes, as `NAME=N` words from the host.
CODE = {name: int(n) for name, _, n in (w.partition("=") for w in os.environ["OW_CODES"].split())}
NOT_FOUND = CODE["NOT_FOUND"]
OUTSIDE = CODE["OUTSIDE"]
CONFLICT = CODE["CONFLICT"]
INVALID = CODE["INVALID"]
CORRUPT = CODE["CORRUPT"]
TOO_BIG = CODE["TOO_BIG"]
USE_SHELL = CODE["USE_SHELL"]

if sys.version_info < (3, 10):
    # `realpath(strict=True)` needs 3.10; the shell loop takes over. So
    # that an older Python gets this far, the file uses no newer syntax
    # (not even f-strings).
    sys.exit(USE_SHELL)

NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC
DIR = os.O_RDONLY | os.O_DIRECTORY | NOFOLLOW


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
    sys.stderr.write("the workspace " + os.environ.get("OW_ROOT", "") + " does not exist\n")
    sys.exit(NOT_FOUND)


def inside(p):
    return p == ROOT or p.startswith(ROOT + b"/")


def fd_path(fd):
    """Where an open descriptor really is."""
    return os.readlink(b"/proc/self/fd/%d" % fd)


class Dir:
    """An open directory, checked to be inside the workspace."""

    def __init__(self, path, p):
        try:
            self.fd = os.open(path, DIR)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR):  # swapped for a symlink or a file
                die(OUTSIDE, p, b" leads outside the workspace")
            die(NOT_FOUND, path, b" does not exist")
        if not inside(fd_path(self.fd)):
            os.close(self.fd)
            die(OUTSIDE, p, b" leads outside the workspace")

    def __enter__(self):
        return self.fd

    def __exit__(self, *_):
        os.close(self.fd)


def parent_of(p):
    """The parent of `p`, opened and checked, and `p`'s last component."""
    d, sep, b = p.rpartition(b"/")
    if not sep:
        d = p
    if not d:
        d = b"/"
    rd = real_e(d)
    if rd is None:
        die(NOT_FOUND, d, b" does not exist")
    if not inside(rd):
        die(OUTSIDE, p, b" leads outside the workspace")
    return Dir(rd, p), b


def lexists(name, dfd):
    try:
        os.lstat(name, dir_fd=dfd)
        return True
    except FileNotFoundError:
        return False


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
    return b"%d.%09d0" % (ns // 10**9, ns % 10**9)


def stat_fields(st):
    """find's `%y %s %m %T@` of an lstat."""
    return [kind(st.st_mode), b"%d" % st.st_size, b"%o" % (st.st_mode & 0o7777), mtime(st)]


def stat_of(name, dfd):
    st = os.lstat(name, dir_fd=dfd)
    target = os.readlink(name, dir_fd=dfd) if stat.S_ISLNK(st.st_mode) else b""
    return b"\0".join(stat_fields(st) + [target]) + b"\0"


def resolved(p):
    t = real_e(p)
    if t is None:
        die(NOT_FOUND, p, b" does not exist")
    if not inside(t):
        die(OUTSIDE, p, b" leads outside the workspace")
    return t


def open_file(p, flags):
    """Open `p` (resolved, final symlink refused) and check where it is."""
    t = resolved(p)
    try:
        fd = os.open(t, flags | NOFOLLOW)
    except IsADirectoryError:
        die(CONFLICT, p, b" is a directory")
    except OSError as e:
        if e.errno == errno.ELOOP:  # swapped for a symlink since it was resolved
            die(OUTSIDE, p, b" leads outside the workspace")
        die(CONFLICT, b"cannot open ", p)
    if not inside(fd_path(fd)):
        os.close(fd)
        die(OUTSIDE, p, b" leads outside the workspace")
    return fd


def op_stat(a, _in):
    p = a[0]
    if p == os.fsencode(os.environ["OW_ROOT"]):
        with Dir(ROOT, p) as dfd:
            return stat_of(b".", dfd)
    d, b = parent_of(p)
    with d as dfd:
        if not lexists(b, dfd):
            die(NOT_FOUND, p, b" does not exist")
        return stat_of(b, dfd)


def op_list(a, _in):
    p = a[0]
    t = resolved(p)
    if not os.path.isdir(t):
        die(CONFLICT, p, b" is not a directory")
    out = []
    with Dir(t, p) as dfd, os.scandir(dfd) as it:
        for e in it:
            st = os.lstat(e.name, dir_fd=dfd)
            out.append(b"\0".join([os.fsencode(e.name)] + stat_fields(st)) + b"\0")
    return b"".join(out)


def op_read(a, _in):
    p = a[0]
    if os.path.isdir(resolved(p)):
        die(CONFLICT, p, b" is a directory")
    # Non-blocking: a FIFO swapped in must not hang the open (regular files
    # ignore the flag).
    fd = open_file(p, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            die(CONFLICT, p, b" is not a regular file")
        if len(a) > 1 and a[1] and before.st_size > int(a[1]):
            die(TOO_BIG, p, b" is too large for one message")
        try:
            data = f.read()
        except OSError:
            die(CONFLICT, b"cannot read ", p)
        after = os.fstat(fd)
    same = (before.st_dev, before.st_ino, before.st_size, before.st_mtime_ns) == (
        after.st_dev,
        after.st_ino,
        after.st_size,
        after.st_mtime_ns,
    )
    if not same or len(data) != before.st_size:
        die(CORRUPT, p, b" changed while it was read; read it again")
    return b"%d\n" % len(data) + data


def new_temp(dfd, p):
    """A fresh `.ow-tmp-XXXXXXXX` in `dfd` (like mktemp: 0600, exclusive)."""
    for _ in range(100):
        name = b".ow-tmp-" + os.urandom(6).hex().encode()[:8]
        try:
            os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o600, dir_fd=dfd))
            return name
        except FileExistsError:
            continue
        except OSError:
            break
    die(CONFLICT, b"cannot create a file in the parent of ", p)


def write_prepare(a, dfd, b):
    p, excl = a[0], a[2]
    try:
        st = os.lstat(b, dir_fd=dfd)
        if stat.S_ISDIR(st.st_mode):
            die(CONFLICT, p, b" is a directory")
        if excl == b"1":
            die(CONFLICT, p, b" already exists")
    except FileNotFoundError:
        pass
    return new_temp(dfd, p)


def make_parents(a):
    p = a[0]
    if a[1] != b"1":
        return
    d = p.rpartition(b"/")[0] or b"/"
    if not inside(real_m(d)):
        die(OUTSIDE, p, b" leads outside the workspace")
    try:
        os.makedirs(d, exist_ok=True)
    except OSError:
        die(CONFLICT, b"cannot create the parent of ", p)


def unlink_quietly(name, dfd):
    try:
        os.unlink(name, dir_fd=dfd)
    except OSError:
        pass


def write_commit(a, dfd, b, tmp):
    p, excl, mode, size = a[0], a[2], a[3], a[4]
    try:
        fd = os.open(tmp, os.O_RDONLY | NOFOLLOW, dir_fd=dfd)
    except OSError:
        die(NOT_FOUND, b"the write in progress was lost")
    try:
        n = os.fstat(fd).st_size
        if b"%d" % n != size:
            unlink_quietly(tmp, dfd)
            die(CORRUPT, p, b": %d of " % n, size, b" bytes arrived; nothing was written")
        os.fchmod(fd, int(mode, 8))
    finally:
        os.close(fd)
    if excl == b"1":
        try:
            os.link(tmp, b, src_dir_fd=dfd, dst_dir_fd=dfd, follow_symlinks=False)
        except OSError:
            unlink_quietly(tmp, dfd)
            die(CONFLICT, p, b" already exists")
        unlink_quietly(tmp, dfd)
    else:
        try:
            os.rename(tmp, b, src_dir_fd=dfd, dst_dir_fd=dfd)
        except OSError:
            unlink_quietly(tmp, dfd)
            die(CONFLICT, b"cannot replace ", p)
    return stat_of(b, dfd)


def op_write(a, data):
    make_parents(a)
    d, b = parent_of(a[0])
    with d as dfd:
        tmp = write_prepare(a, dfd, b)
        try:
            fd = os.open(tmp, os.O_WRONLY | NOFOLLOW, dir_fd=dfd)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        except OSError as e:
            unlink_quietly(tmp, dfd)
            die(1, str(e))
        return write_commit(a, dfd, b, tmp)


def op_write_open(a, _in):
    make_parents(a)
    d, b = parent_of(a[0])
    with d as dfd:
        tmp = write_prepare(a, dfd, b)
        return fd_path(dfd) + b"/" + tmp + b"\0"


def temp_name(path):
    """The file name of a write in progress."""
    if b"/.ow-tmp-" not in path:
        die(INVALID, b"not a write in progress")
    return path.rpartition(b"/")[2]


def op_write_finish(a, _in):
    # The temporary file was made beside the target: it is looked up in the
    # target's (checked) directory, never through the path it came with.
    tmp = temp_name(a[5])
    d, b = parent_of(a[0])
    with d as dfd:
        if not lexists(tmp, dfd):
            die(NOT_FOUND, b"the write in progress was lost")
        return write_commit(a, dfd, b, tmp)


def op_write_abort(a, _in):
    if b"/.ow-tmp-" in a[0]:
        try:
            d, name = parent_of(a[0])
        except Die:
            return b""
        with d as dfd:
            unlink_quietly(name, dfd)
    return b""


def op_mkdir(a, _in):
    p = a[0]
    if a[1] == b"1":
        m = real_m(p)
        if not inside(m):
            die(OUTSIDE, p, b" leads outside the workspace")
        if os.path.isdir(m):
            return b""
        try:
            os.makedirs(p, exist_ok=True)
        except OSError:
            die(CONFLICT, b"cannot create ", p, b" (a component is not a directory?)")
        if not inside(real_e(p) or b""):
            die(OUTSIDE, p, b" leads outside the workspace")
        return b""
    d, b = parent_of(p)
    with d as dfd:
        if lexists(b, dfd):
            die(CONFLICT, p, b" already exists")
        try:
            os.mkdir(b, dir_fd=dfd)
        except OSError:
            die(CONFLICT, b"cannot create ", p)
    return b""


def remove_tree(name, dfd):
    """`rm -rf` of `name` in `dfd`, never following a symlink."""
    # shutil.rmtree walks with descriptors; /proc/self/fd/N/NAME names the
    # entry relative to the open directory, whatever its path became.
    shutil.rmtree(b"/proc/self/fd/%d/%s" % (dfd, name))


def op_remove(a, _in):
    p = a[0]
    d, b = parent_of(p)
    with d as dfd:
        try:
            st = os.lstat(b, dir_fd=dfd)
        except FileNotFoundError:
            die(NOT_FOUND, p, b" does not exist")
        if stat.S_ISDIR(st.st_mode):
            if a[1] == b"1":
                remove_tree(b, dfd)
            else:
                try:
                    os.rmdir(b, dir_fd=dfd)
                except OSError:
                    die(CONFLICT, p, b" is a non-empty directory; remove it with recursive")
        else:
            os.unlink(b, dir_fd=dfd)
    return b""


def op_rename(a, _in):
    sd, sb = parent_of(a[0])
    with sd as sfd:
        try:
            s_dir = stat.S_ISDIR(os.lstat(sb, dir_fd=sfd).st_mode)
        except FileNotFoundError:
            die(NOT_FOUND, a[0], b" does not exist")
        td, tb = parent_of(a[1])
        with td as tfd:
            # `mv -T` refuses to put a non-directory over a directory, which
            # rename(2) allows for an empty one.
            try:
                t_dir = stat.S_ISDIR(os.lstat(tb, dir_fd=tfd).st_mode)
            except FileNotFoundError:
                t_dir = False
            if t_dir and not s_dir:
                die(CONFLICT, b"cannot rename ", a[0], b" to ", a[1])
            try:
                os.rename(sb, tb, src_dir_fd=sfd, dst_dir_fd=tfd)
            except OSError:
                die(CONFLICT, b"cannot rename ", a[0], b" to ", a[1])
    return b""


def op_realpath(a, _in):
    return resolved(a[0]) + b"\0"


def op_chmod(a, _in):
    p = a[0]
    if os.path.islink(p):
        die(INVALID, p, b" is a symlink; symlinks have no permissions of their own")
    # O_PATH opens without needing read permission; chmod through the
    # descriptor's /proc entry changes exactly the inode that was checked.
    fd = open_file(p, os.O_PATH)
    try:
        if stat.S_ISLNK(os.fstat(fd).st_mode):
            die(INVALID, p, b" is a symlink; symlinks have no permissions of their own")
        os.chmod(b"/proc/self/fd/%d" % fd, int(a[1], 8))
    finally:
        os.close(fd)
    return b""


def op_list_tree(a, _in):
    t = real_m(a[0])
    if not inside(t):
        die(OUTSIDE, a[0], b" leads outside the workspace")
    if not os.path.isdir(t):
        return b""
    out = []
    with Dir(t, a[0]) as dfd:
        # fwalk never follows symlinks and walks by descriptor.
        for d, dirs, files, _ in os.fwalk(b".", dir_fd=dfd):
            for n in dirs + files:
                out.append(n if d == b"." else d[2:] + b"/" + n)
    return b"\0".join(out) + (b"\0" if out else b"")


def op_remove_list(a, data):
    t = resolved(a[0])
    failed = []
    with Dir(t, a[0]) as root:
        for rel in data.split(b"\0"):
            if not rel:
                continue
            parts = rel.split(b"/")
            fds = []
            try:
                # Walk down by descriptor, refusing symlinked directories.
                dfd = root
                for comp in parts[:-1]:
                    dfd = os.open(comp, DIR, dir_fd=dfd)
                    fds.append(dfd)
                st = os.lstat(parts[-1], dir_fd=dfd)
                if stat.S_ISDIR(st.st_mode):
                    remove_tree(parts[-1], dfd)
                else:
                    os.unlink(parts[-1], dir_fd=dfd)
            except FileNotFoundError:
                pass
            except OSError as e:
                failed.append(rel + b": " + os.fsencode(e.strerror or "error"))
            finally:
                for fd in fds:
                    os.close(fd)
    if failed:
        die(1, b"cannot remove " + b"; ".join(failed))
    return b""


def serving(names):
    """The operations the host asks for, by name: each is the `op_<name>`
    function above. One missing (a host newer than this server) hands over
    to the shell server, which is generated with every operation."""
    ops = {}
    for name in names.split():
        fn = globals().get("op_" + name)
        if fn is None:
            sys.stderr.write("the Python session server has no operation " + name + "\n")
            sys.exit(USE_SHELL)
        ops[name.encode()] = fn
    return ops


OPS = serving(os.environ["OW_OPS"])


def read_exact(inp, n):
    buf = inp.read(n) if n else b""
    if len(buf) != n:
        sys.exit(0)
    return buf


def number(field):
    if not field or not field.isdigit():
        sys.exit(INVALID)
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
            sys.exit(INVALID)
        rid, op, argc, inlen = fields[0], fields[1], number(fields[2]), number(fields[3])
        args = []
        for _ in range(argc):
            args.append(read_exact(inp, number(inp.readline().rstrip(b"\n"))))
        data = read_exact(inp, inlen)
        fn = OPS.get(op)
        if fn is None:
            rc, o, e = INVALID, b"", b"unknown operation " + op + b"\n"
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
