p=$1
if [ "$2" = 1 ]; then
  m=$(realpath -m -- "$p") && inside "$m" || die @OUTSIDE@ "$p leads outside the workspace"
  [ -d "$m" ] && exit 0
  mkdir -p -- "$p" 2>/dev/null || die @CONFLICT@ "cannot create $p (a component is not a directory?)"
  m=$(realpath -e -- "$p") && inside "$m" || die @OUTSIDE@ "$p leads outside the workspace"
else
  parent_of "$p"; t="./$b"
  exists "$t" && die @CONFLICT@ "$p already exists"
  mkdir -- "$t" || die @CONFLICT@ "cannot create $p"
fi
