t=$(realpath -e -- "$1" 2>/dev/null) || die @NOT_FOUND@ "$1 does not exist"
inside "$t" || die @OUTSIDE@ "$1 leads outside the workspace"
[ -d "$t" ] && die @CONFLICT@ "$1 is a directory"
[ -f "$t" ] || die @CONFLICT@ "$1 is not a regular file"
exec 3< "$t" || die @CONFLICT@ "cannot read $1"
fd_inside 3 "$1"
[ -f /proc/self/fd/3 ] || die @CONFLICT@ "$1 is not a regular file"
s=$(find -L /proc/self/fd/3 -maxdepth 0 -printf '%D:%i:%s:%T@') || die @CONFLICT@ "cannot read $1"
n=${s#*:*:}; n=${n%%:*}
[ -n "${2:-}" ] && [ "$n" -gt "$2" ] && die @TOO_BIG@ "$1 is too large for one message"
printf '%s\n' "$n"
cat <&3 || exit 1
[ "$(find -L /proc/self/fd/3 -maxdepth 0 -printf '%D:%i:%s:%T@')" = "$s" ] || die @CORRUPT@ "$1 changed while it was read; read it again"
