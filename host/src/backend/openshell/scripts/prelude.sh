set -u
die() { printf '%s\n' "$2" >&2; exit "$1"; }
root=$(realpath -e -- "$OW_ROOT" 2>/dev/null) || die @NOT_FOUND@ "the workspace $OW_ROOT does not exist"
inside() { case "$1" in "$root"|"$root"/*) return 0 ;; *) return 1 ;; esac; }
# Enter the resolved directory $1 (for $2) and check where we really are.
enter() {
  cd -P -- "$1" 2>/dev/null || die @NOT_FOUND@ "$2 does not exist"
  here=$(pwd -P) && inside "$here" || die @OUTSIDE@ "$2 leads outside the workspace"
}
# Enter the parent of $1: sets rd (its real path) and b (last component).
parent_of() {
  b=${1##*/}; d=${1%/*}; [ -n "$d" ] || d=/
  rd=$(realpath -e -- "$d" 2>/dev/null) || die @NOT_FOUND@ "$d does not exist"
  inside "$rd" || die @OUTSIDE@ "$1 leads outside the workspace"
  enter "$rd" "$1"; rd=$here
}
# Check that the file open on descriptor $1 is inside (for $2).
fd_inside() {
  r=$(readlink "/proc/self/fd/$1") || die @OUTSIDE@ "cannot check where $2 is (is /proc mounted?)"
  inside "$r" || die @OUTSIDE@ "$2 leads outside the workspace"
}
exists() { [ -e "$1" ] || [ -L "$1" ]; }
stat_of() { find "$1" -maxdepth 0 -printf '%y\0%s\0%m\0%T@\0%l\0'; }
