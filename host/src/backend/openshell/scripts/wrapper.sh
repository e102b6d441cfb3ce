# shellcheck disable=SC2154 # v is assigned through eval
set -u
if [ -n "${OW_AC:-}" ]; then
  n=$OW_AC; unset OW_AC; i=0; set --
  while [ "$i" -lt "$n" ]; do
    eval "v=\${OW_A$i}"; unset "OW_A$i"
    a=$(printf '%s' "$v" | base64 -d && printf x) || exit @WRAPPER@
    set -- "$@" "${a%x}"; i=$((i + 1))
  done
fi
if [ -n "${OW_EC:-}" ]; then
  n=$OW_EC; unset OW_EC; i=0
  while [ "$i" -lt "$n" ]; do
    eval "v=\${OW_E$i}"; unset "OW_E$i"
    kv=$(printf '%s' "$v" | base64 -d && printf x) || exit @WRAPPER@
    kv=${kv%x}; export "${kv%%=*}=${kv#*=}"; i=$((i + 1))
  done
fi
if [ -n "${OW_CWD:-}" ]; then
  d=$(printf '%s' "$OW_CWD" | base64 -d && printf x) || exit @WRAPPER@
  unset OW_CWD; cd "${d%x}" || exit @WRAPPER@
fi
mode=${OW_MODE:-exec}; unset OW_MODE OW_SCRIPT
case $mode in
  exec) exec "$@" ;;
  sized:*) head -c "${mode#sized:}" | "$@"; exit $? ;;
  framed)
    f=$(mktemp -u "${TMPDIR:-/tmp}/ow-stdin.XXXXXXXXXX") && mkfifo -m 600 "$f" || exit @WRAPPER@
    if command -v setsid >/dev/null 2>&1; then setsid "$@" < "$f" & else "$@" < "$f" & fi
    cpid=$!
    exec 4<&0
    {
      exec 3>"$f"; rm -f "$f"
      while IFS= read -r h <&4; do
        case $h in
          E) exec 3>&- ;;
          S*) kill -s "${h#S}" -- "-$cpid" 2>/dev/null || kill -s "${h#S}" "$cpid" 2>/dev/null ;;
          ''|*[!0-9]*) ;;
          *) dd bs="$h" count=1 iflag=fullblock status=none <&4 >&3 2>/dev/null || exec 3>&- ;;
        esac
      done
    } &
    rpid=$!
    wait "$cpid"; st=$?
    kill "$rpid" 2>/dev/null
    exit "$st" ;;
  *) exit @WRAPPER@ ;;
esac
