# Shared helpers for the scripts in this folder: make sure the pieces the
# build and the local backend need are installed, or say exactly what is
# missing and how to get it.

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Run a command as root: directly when we are root, through sudo when it
# works without a password prompt, else not at all.
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"
    else return 1
    fi
}

apt_install() {
    command -v apt-get >/dev/null 2>&1 || return 1
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1 && return 0
    as_root apt-get update >/dev/null 2>&1 || return 1
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null
}

ensure_cargo() {
    command -v cargo >/dev/null 2>&1 || die "cargo is not installed; install Rust with rustup: https://rustup.rs"
}

ensure_wasip2() {
    ensure_cargo
    if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
        say "adding the wasm32-wasip2 Rust target (guests are built for it)"
        rustup target add wasm32-wasip2 >/dev/null || die "could not add the target; run: rustup target add wasm32-wasip2"
    fi
}

ensure_bwrap() {
    if ! command -v bwrap >/dev/null 2>&1; then
        say "installing bubblewrap (the local backend runs every command under it)"
        apt_install bubblewrap || die "bubblewrap is missing and could not be installed automatically.
Install it yourself: sudo apt-get install bubblewrap (Debian/Ubuntu), sudo dnf install bubblewrap (Fedora),
sudo pacman -S bubblewrap (Arch); then run this again."
    fi
}
