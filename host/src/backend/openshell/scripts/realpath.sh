t=$(realpath -e -- "$1" 2>/dev/null) || die @NOT_FOUND@ "$1 does not exist"
inside "$t" || die @OUTSIDE@ "$1 leads outside the workspace"
printf '%s\0' "$t"
