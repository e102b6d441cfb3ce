t=$(realpath -e -- "$1" 2>/dev/null) || die @NOT_FOUND@ "$1 does not exist"
inside "$t" || die @OUTSIDE@ "$1 leads outside the workspace"
[ -d "$t" ] || die @CONFLICT@ "$1 is not a directory"
enter "$t" "$1"
shift
exec tar --format=gnu --numeric-owner --no-wildcards-match-slash -cf - "$@" .
