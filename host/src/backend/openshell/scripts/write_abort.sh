case "$1" in */.ow-tmp-*) parent_of "$1"; rm -f -- "./$b" ;; esac
