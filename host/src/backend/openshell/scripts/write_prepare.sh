p=$1
if [ "$2" = 1 ]; then
  d=${p%/*}; [ -n "$d" ] || d=/
  m=$(realpath -m -- "$d") && inside "$m" || die @OUTSIDE@ "$p leads outside the workspace"
  mkdir -p -- "$d" 2>/dev/null || die @CONFLICT@ "cannot create the parent of $p"
fi
parent_of "$p"; t="./$b"
[ -d "$t" ] && [ ! -L "$t" ] && die @CONFLICT@ "$p is a directory"
[ "$3" = 1 ] && exists "$t" && die @CONFLICT@ "$p already exists"
tmp=$(mktemp "./.ow-tmp-XXXXXXXX") || die @CONFLICT@ "cannot create a file in the parent of $p"
