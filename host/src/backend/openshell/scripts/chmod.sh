[ -L "$1" ] && die @INVALID@ "$1 is a symlink; symlinks have no permissions of their own"
t=$(realpath -e -- "$1" 2>/dev/null) || die @NOT_FOUND@ "$1 does not exist"
inside "$t" || die @OUTSIDE@ "$1 leads outside the workspace"
if [ "$t" != "$root" ]; then
  enter "${t%/*}" "$1"; t="./${t##*/}"
  [ -L "$t" ] && die @INVALID@ "$1 is a symlink; symlinks have no permissions of their own"
fi
# Change the inode that was opened and checked, not whatever the name
# points to a moment later (GNU chmod always follows symlinks).
exec 3< "$t" 2>/dev/null || die @CONFLICT@ "cannot open $1 to change its mode safely (it is not readable)"
fd_inside 3 "$1"
chmod "$2" /proc/self/fd/3
