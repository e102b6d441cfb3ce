case "$1" in */.ow-tmp-*) ;; *) die @INVALID@ "not a write in progress" ;; esac
parent_of "$1"
[ -f "./$b" ] && [ ! -L "./$b" ] || die @NOT_FOUND@ "the write in progress was lost"
exec 3>> "./$b" || die @NOT_FOUND@ "the write in progress was lost"
fd_inside 3 "$1"
# Frames: a size line, then that many bytes, copied by one head straight
# into the file (head streams, so a frame may be of any size); `E` ends the
# upload.
end=
while [ -z "$end" ] && IFS= read -r h; do
  case $h in
    E) end=1 ;;
    ''|*[!0-9]*) die @INVALID@ "a malformed upload frame" ;;
    *) head -c "$h" >&3 || die @CORRUPT@ "the upload could not be written" ;;
  esac
done
[ -n "$end" ] || die @CORRUPT@ "the upload ended before its end mark"
