p=$1
parent_of "$p"; t="./$b"
exists "$t" || die @NOT_FOUND@ "$p does not exist"
if [ -d "$t" ] && [ ! -L "$t" ]; then
  if [ "$2" = 1 ]; then rm -rf -- "$t"; else rmdir -- "$t" 2>/dev/null || die @CONFLICT@ "$p is a non-empty directory; remove it with recursive"; fi
else
  rm -f -- "$t"
fi
