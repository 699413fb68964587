#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs every libFuzzer target of a QS_BUILD_FUZZERS build, one per core at a time, each for SECONDS, on a corpus
# seeded from the shared assets (real checkpoints, tokenizers, cases/) and tests/fuzz/{seeds,regressions}.
#   tests/fuzz/run.sh BUILD_DIR [SECONDS] [TARGET...]      (installer/setup.sh fuzz [SECONDS] calls it)
# Env: QS_SHARED_DIR (default ../shared beside the source tree), QS_FUZZ_ARGS (extra libFuzzer flags),
# QS_FUZZ_REPLAY_ONLY (targets that only run their seed corpus, unmutated; the output says so and why),
# QS_FUZZ_JOBS (targets run at once; default: the number of cores).
# Limits: one input may not allocate more than 256 MiB in one call (-malloc_limit_mb: the inputs are at most
# ~2 MiB, so that is 100x their size) nor grow the process beyond 2 GiB (-rss_limit_mb), nor take 10 s (-timeout).
# Each finding is written to BUILD_DIR/fuzz-findings/<target>/ (crash-*, leak-*, oom-*, timeout-*); reproduce it with
# BUILD_DIR/tests/fuzz/fuzz_<target> FILE, fix it, and add the file under tests/fuzz/regressions/<target>/.
# Prints one line per target (executions, corpus size, findings); exits 1 when any target found something.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/../.." && pwd)"
build="$(cd "${1:?usage: run.sh BUILD_DIR [SECONDS] [TARGET...]}" && pwd)"
secs="${2:-60}"
shift $(( $# >= 2 ? 2 : 1 ))
shared="${QS_SHARED_DIR:-$src/../shared}"
[ -d "$shared" ] || { echo "run.sh: shared assets not found at $shared (set QS_SHARED_DIR)" >&2; exit 2; }

# The shared files that seed a target (find expressions under $shared).
seed_files() {
    case "$1" in
        gguf|tok_gguf) find "$shared" -name '*.gguf' ;;
        safetensors) find "$shared" -name '*.safetensors' ;;
        llama2c) find "$shared" -name 'stories*.bin' ;;
        hdf5|session_h5) find "$shared" -name '*.h5' ;;
        tok_hf) find "$shared" -name tokenizer.json ;;
        tok_sentencepiece) find "$shared" -name tokenizer.model ;;
        tok_llama2c) find "$shared" \( -name 'tok*.bin' -o -name tokenizer.bin \) ;;
        imatrix) find "$src/tests/data/llama-imatrix" -name '*.gguf'; find "$here/seeds/imatrix_legacy" -type f ;;
        quant_map) find "$shared/cases" -name '*map*.json' ;;
        *) ;;
    esac
}

# Copies seeds into a corpus folder, named by content hash (duplicates collapse); files over 2 MiB are cut to
# their first MiB (the headers, where the parsing is).
seed_corpus() {  # target, corpus dir
    local t="$1" dir="$2" f name
    mkdir -p "$dir"
    { seed_files "$t"; find "$here/seeds/$t" "$here/regressions/$t" -type f 2>/dev/null; } | while read -r f; do
        [ -f "$f" ] || continue
        name="$(sha1sum "$f" | cut -c1-40)"
        if [ "$(stat -c %s "$f")" -gt $((2 << 20)) ]; then
            head -c $((1 << 20)) "$f" > "$dir/$name"
        else
            cp "$f" "$dir/$name"
        fi
    done
}

targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    for exe in "$build"/tests/fuzz/fuzz_*; do
        [ -x "$exe" ] && targets+=("$(basename "$exe" | sed 's/^fuzz_//')")
    done
fi
[ "${#targets[@]}" -gt 0 ] || { echo "run.sh: no fuzz targets in $build/tests/fuzz (build with -DQS_BUILD_FUZZERS=ON)" >&2; exit 2; }

# One target's run; prints its table line and returns non-zero when it found something.
run_target() {  # target
    local t="$1" exe="$build/tests/fuzz/fuzz_$1" corpus="$build/fuzz-corpus/$1" findings="$build/fuzz-findings/$1"
    local log="$build/fuzz-logs/$1.log" scratch rc execs rate found mode
    mkdir -p "$findings" "$(dirname "$log")"
    seed_corpus "$t" "$corpus"
    # The targets' scratch files (tests/fuzz/harness.h scratchDir) go to a folder removed after the run.
    scratch="$(mktemp -d "${TMPDIR:-/tmp}/qs-fuzz-$t.XXXXXX")"
    mode=(-max_total_time="$secs")
    case " ${QS_FUZZ_REPLAY_ONLY:-} " in *" $t "*) mode=(-runs=0) ;; esac
    # shellcheck disable=SC2086
    TMPDIR="$scratch" ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
        "$exe" "$corpus" "${mode[@]}" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 \
        -max_len=$((2 << 20)) -print_final_stats=1 -artifact_prefix="$findings/" ${QS_FUZZ_ARGS:-} > "$log" 2>&1
    rc=$?
    rm -rf "$scratch"
    execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
    rate="$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
    found="$(find "$findings" -type f | wc -l)"
    printf '%-18s %10s %8s %8s %s\n' "$t" "${execs:-?}" "${rate:-?}" "$(find "$corpus" -type f | wc -l)" \
        "$found$( [ "$rc" -ne 0 ] && echo " (exit $rc, see $log)")$( [ "${mode[0]}" = -runs=0 ] && echo " (seeds replayed, not mutated)")"
    [ "$rc" -eq 0 ] && [ "$found" -eq 0 ]
}

# QS_FUZZ_JOBS targets at a time (default: one per core; each target is one process on one core), each writing
# its line to a file; the lines are printed in target order once all have finished.
parallel="${QS_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}"
lines="$(mktemp -d "${TMPDIR:-/tmp}/qs-fuzz-lines.XXXXXX")"
status=0
for t in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || true; done
    ( run_target "$t" > "$lines/$t.line" || touch "$lines/$t.found" ) &
done
wait
printf '%-18s %10s %8s %8s %s\n' target executions exec/s corpus findings
for t in "${targets[@]}"; do
    cat "$lines/$t.line"
    [ -e "$lines/$t.found" ] && status=1
done
rm -rf "$lines"
exit "$status"
