#!/usr/bin/env bash
# Fuzz the parsers that read untrusted input (tar archives, member names,
# guest paths, policy files, session-channel frames, exec output,
# components) with cargo-fuzz. The targets are in fuzz/fuzz_targets/, each
# calling one entry point of host/src/fuzzing.rs.
#
#   ./scripts/fuzz.sh [TARGET|all] [SECONDS] [-- LIBFUZZER-ARGS]
#       fuzz one target or all of them, one after the other, SECONDS each
#       (default: all, 600 s). New inputs go to fuzz/corpus-work/TARGET
#       (gitignored); the checked-in fuzz/corpus/TARGET is read, never
#       written. A crash stops the run (and the targets after it) and lands
#       in fuzz/artifacts/TARGET/; each run's log, with libFuzzer's final
#       stats, is fuzz/artifacts/TARGET.log.
#   ./scripts/fuzz.sh cmin [TARGET|all]
#       merge fuzz/corpus-work/TARGET into fuzz/corpus/TARGET and minimize
#       the result (cargo fuzz cmin, by edge coverage; at most 1 MiB per
#       target, smallest inputs first): what to check in afterwards.
#       Files named regression-* (reproducers of fixed bugs) are kept as
#       they are.
#   ./scripts/fuzz.sh seeds
#       write the hand-made seeds (fuzz/seeds.py) into fuzz/corpus/.
#   ./scripts/fuzz.sh list
#       print the target names.
#
# `cargo test` replays fuzz/corpus without cargo-fuzz
# (host/tests/fuzz_corpus.rs), so check in what cmin leaves.
#
# cargo-fuzz is installed (cargo install --locked) when missing. It needs
# nightly compiler flags; on a stable toolchain RUSTC_BOOTSTRAP=1 unlocks
# them. FUZZ_SANITIZER picks the sanitizer (default: address; `none` runs
# faster, without memory-error detection). The `component` target builds a
# Host on the local backend, so it needs bubblewrap (installed if missing).
# Builds go to fuzz/target, apart from the workspace's target/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

TARGETS=(archive member_name guest_path policy session_replies session_request exec_output component)
SANITIZER=${FUZZ_SANITIZER:-address}
export RUSTC_BOOTSTRAP=1

ensure_cargo_fuzz() {
    ensure_cargo
    if ! cargo fuzz --version >/dev/null 2>&1; then
        say "installing cargo-fuzz (cargo install cargo-fuzz --locked)"
        cargo install cargo-fuzz --locked || die "could not install cargo-fuzz; run: cargo install cargo-fuzz --locked"
    fi
}

# The targets a TARGET|all argument names.
select_targets() {
    local want=${1:-all} t
    if [ "$want" = all ]; then
        printf '%s\n' "${TARGETS[@]}"
        return
    fi
    for t in "${TARGETS[@]}"; do
        if [ "$t" = "$want" ]; then
            echo "$t"
            return
        fi
    done
    die "unknown target '$want'; one of: all ${TARGETS[*]}"
}

fuzz() {
    local target=$1 seconds=$2
    shift 2
    [ "$target" != component ] || ensure_bwrap
    mkdir -p "fuzz/corpus-work/$target" "fuzz/corpus/$target" fuzz/artifacts
    say "fuzzing $target for ${seconds}s (sanitizer: $SANITIZER; log: fuzz/artifacts/$target.log)"
    # The first corpus folder receives new inputs; the second only seeds.
    cargo fuzz run --fuzz-dir fuzz --sanitizer "$SANITIZER" "$target" \
        "fuzz/corpus-work/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=60 "$@" 2>&1 | tee "fuzz/artifacts/$target.log"
}

minimize() {
    local target=$1
    [ "$target" != component ] || ensure_bwrap
    mkdir -p "fuzz/corpus/$target"
    # libFuzzer names inputs by content hash, so copying over is harmless.
    if [ -d "fuzz/corpus-work/$target" ]; then
        find "fuzz/corpus-work/$target" -maxdepth 1 -type f -exec cp {} "fuzz/corpus/$target"/ \;
    fi
    # Reproducers of fixed bugs (regression-*) stay, whatever their coverage.
    local keep
    keep=$(mktemp -d)
    # Put them back however this ends (a failed build or cmin included).
    local back
    back=$(printf 'find %q -maxdepth 1 -type f -exec mv {} %q/ \\; ; rmdir %q' "$keep" "fuzz/corpus/$target" "$keep")
    # shellcheck disable=SC2064 # expanded now, on purpose
    trap "$back" EXIT
    find "fuzz/corpus/$target" -maxdepth 1 -type f -name 'regression-*' -exec mv {} "$keep"/ \;
    say "minimizing fuzz/corpus/$target ($(find "fuzz/corpus/$target" -type f | wc -l) files)"
    # Keep one input per covered edge, not per hit count: the checked-in
    # set is several times smaller (policy: 714 inputs instead of 3,668)
    # for the same edges; fuzzing runs regrow the rest in corpus-work/.
    cargo fuzz cmin --fuzz-dir fuzz --sanitizer "$SANITIZER" "$target" "fuzz/corpus/$target" -- -use_counters=0
    # A size budget for what is checked in: the smallest inputs first, up
    # to 1 MiB. Only `component` exceeds it (its inputs are mutated
    # components of 13-60 KiB; minimized it still holds about 10 MB).
    local total=0 size file
    while read -r size file; do
        total=$((total + size))
        [ "$total" -le $((1 << 20)) ] || rm -f -- "$file"
    done < <(find "fuzz/corpus/$target" -maxdepth 1 -type f -printf '%s %p\n' | sort -n)
    # Restore the reproducers now (the trap does it on failure).
    find "$keep" -maxdepth 1 -type f -exec mv {} "fuzz/corpus/$target"/ \;
    rmdir "$keep"
    trap - EXIT
    say "fuzz/corpus/$target: $(find "fuzz/corpus/$target" -type f | wc -l) files, $(du -sh "fuzz/corpus/$target" | cut -f1)"
}

command=${1:-all}
case "$command" in
    list)
        printf '%s\n' "${TARGETS[@]}"
        ;;
    seeds)
        command -v python3 >/dev/null 2>&1 || die "python3 is needed to write the seeds"
        python3 fuzz/seeds.py fuzz/corpus
        ;;
    cmin)
        ensure_cargo_fuzz
        # An assignment, not a loop over $(...): an unknown name must stop
        # the script (set -e), not leave it looping over nothing.
        targets=$(select_targets "${2:-all}")
        for t in $targets; do minimize "$t"; done
        ;;
    *)
        ensure_cargo_fuzz
        shift || true
        seconds=600
        if [ $# -gt 0 ] && [ "$1" != -- ]; then
            seconds=$1
            shift
        fi
        [ $# -eq 0 ] || [ "$1" != -- ] || shift
        case "$seconds" in '' | *[!0-9]*) die "SECONDS must be a whole number, not '$seconds'" ;; esac
        targets=$(select_targets "$command")
        for t in $targets; do fuzz "$t" "$seconds" "$@"; done
        ;;
esac
