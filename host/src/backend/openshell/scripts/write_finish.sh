case "$6" in */.ow-tmp-*) ;; *) die @INVALID@ "not a write in progress" ;; esac
parent_of "$1"; t="./$b"; p=$1
# The temporary file was made beside the target: look it up there.
tmp="./${6##*/}"
[ -f "$tmp" ] && [ ! -L "$tmp" ] || die @NOT_FOUND@ "the write in progress was lost"
