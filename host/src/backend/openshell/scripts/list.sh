t=$(realpath -e -- "$1" 2>/dev/null) || die @NOT_FOUND@ "$1 does not exist"
inside "$t" || die @OUTSIDE@ "$1 leads outside the workspace"
[ -d "$t" ] || die @CONFLICT@ "$1 is not a directory"
enter "$t" "$1"
find . -mindepth 1 -maxdepth 1 -printf '%f\0%y\0%s\0%m\0%T@\0'
