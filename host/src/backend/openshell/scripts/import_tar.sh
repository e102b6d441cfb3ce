m=$(realpath -m -- "$1") && inside "$m" || die @OUTSIDE@ "$1 leads outside the workspace"
mkdir -p -- "$1" 2>/dev/null || die @CONFLICT@ "cannot create $1"
enter "$m" "$1"
exec tar --no-same-owner --delay-directory-restore -xpf -
