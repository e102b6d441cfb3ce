cat > "$tmp" || { rm -f -- "$tmp"; exit 1; }
