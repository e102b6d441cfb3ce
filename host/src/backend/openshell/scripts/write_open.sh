printf '%s/%s\0' "$rd" "${tmp#./}"
