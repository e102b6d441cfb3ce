# shellcheck shell=bash # the session server runs under bash: `read -N` reads exact byte counts
export LC_ALL=C
T=$(mktemp -d "${TMPDIR:-/tmp}/ow-ch.XXXXXXXX") || exit @WRAPPER@
trap 'rm -rf "$T"' EXIT
printf 'OWCH1 sh\n'
while IFS=' ' read -r id op argc inlen; do
  case "$argc$inlen" in ''|*[!0-9]*) exit @INVALID@ ;; esac
  set --
  i=0
  while [ "$i" -lt "$argc" ]; do
    IFS= read -r alen || exit 0
    case "$alen" in ''|*[!0-9]*) exit @INVALID@ ;; esac
    a=
    [ "$alen" -gt 0 ] && { IFS= read -r -N "$alen" a || exit 0; }
    set -- "$@" "$a"
    i=$((i + 1))
  done
  if [ "$inlen" -gt 0 ]; then
    dd bs="$inlen" count=1 iflag=fullblock status=none > "$T/in" || exit 0
  else
    : > "$T/in"
  fi
  case "$op" in
    @OPS@)
      ( "op_$op" "$@" ) < "$T/in" > "$T/out" 2> "$T/err"; rc=$? ;;
    *) printf 'unknown operation %s\n' "$op" > "$T/err"; : > "$T/out"; rc=@INVALID@ ;;
  esac
  # shellcheck disable=SC2046 # two sizes, split into $1 and $2 on purpose
  set -- $(stat -c %s "$T/out" "$T/err")
  printf 'A %s %s %s %s\n' "$id" "$rc" "$1" "$2"
  cat "$T/out" "$T/err"
done
