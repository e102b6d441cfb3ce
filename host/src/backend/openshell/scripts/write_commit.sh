n=$(stat -c %s -- "$tmp")
[ "$n" = "$5" ] || { rm -f -- "$tmp"; die @CORRUPT@ "$p: $n of $5 bytes arrived; nothing was written"; }
chmod "$4" -- "$tmp"
if [ "$3" = 1 ]; then
  ln -- "$tmp" "$t" 2>/dev/null || { rm -f -- "$tmp"; die @CONFLICT@ "$p already exists"; }
  rm -f -- "$tmp"
else
  mv -f -T -- "$tmp" "$t" || { rm -f -- "$tmp"; die @CONFLICT@ "cannot replace $p"; }
fi
stat_of "$t"
