parent_of "$2"; t="$rd/$b"
parent_of "$1"; s="./$b"
exists "$s" || die @NOT_FOUND@ "$1 does not exist"
mv -f -T -- "$s" "$t" 2>/dev/null || die @CONFLICT@ "cannot rename $1 to $2"
