case "$1" in */.ow-tmp-*) ;; *) die @INVALID@ "not a write in progress" ;; esac
parent_of "$1"
[ -f "./$b" ] && [ ! -L "./$b" ] || die @NOT_FOUND@ "the write in progress was lost"
exec 3>> "./$b" || die @NOT_FOUND@ "the write in progress was lost"
fd_inside 3 "$1"
cat >&3
