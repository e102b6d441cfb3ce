p=$1
if [ "$p" = "$OW_ROOT" ]; then t=$root; else parent_of "$p"; t="./$b"; fi
exists "$t" || die @NOT_FOUND@ "$p does not exist"
stat_of "$t"
