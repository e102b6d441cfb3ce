t=$(realpath -m -- "$1") && inside "$t" || die @OUTSIDE@ "$1 leads outside the workspace"
[ -d "$t" ] || exit 0
enter "$t" "$1"
find . -mindepth 1 -printf '%P\0'
