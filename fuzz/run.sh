#!/bin/bash
# fuzz/run.sh BUILD_DIR TARGET... : runs each libFuzzer target built in BUILD_DIR
# (meson -Dfuzz=true with clang) for FUZZ_SECONDS (default 45) on its corpus
# fuzz/corpus/<target>. New inputs go to BUILD_DIR/fuzz-work/<target>, crash
# reproducers to BUILD_DIR/fuzz-crashes/<target>/; the repo corpus is only
# read, unless FUZZ_MERGE=1, which adds the new inputs that bring new coverage
# to it (libFuzzer -merge=1, so it stays minimal). Exit status 1 when any
# target crashed, leaked, hit undefined behaviour or timed out.
set -u
build=$1
shift
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-45}
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
failed=()
for t in "$@"; do
    bin=$build/fuzz/fuzz_$t
    work=$build/fuzz-work/$t
    crashes=$build/fuzz-crashes/$t
    mkdir -p "$work" "$crashes"
    echo "== fuzz $t: ${secs}s (corpus fuzz/corpus/$t, new inputs in $work)"
    "$bin" -max_total_time="$secs" -timeout=30 -rss_limit_mb=2560 -print_final_stats=1 \
        -artifact_prefix="$crashes/" "$work" "fuzz/corpus/$t" > "$build/fuzz-$t.log" 2>&1
    rc=$?
    grep -E "^stat::(number_of_executed_units|new_units_added|peak_rss_mb)|^Done " "$build/fuzz-$t.log" | tr '\n' ' '
    echo
    if [ $rc != 0 ]; then
        echo "!! fuzz $t failed (exit $rc); log $build/fuzz-$t.log; reproducers:"
        ls -1 "$crashes"
        grep -m3 -E "ERROR: |runtime error:|SUMMARY:" "$build/fuzz-$t.log"
        failed+=("$t")
    fi
    if [ "${FUZZ_MERGE:-0}" = 1 ]; then
        "$bin" -merge=1 -timeout=30 "fuzz/corpus/$t" "$work" > "$build/fuzz-$t-merge.log" 2>&1 ||
            echo "!! merge of $t failed: $build/fuzz-$t-merge.log"
    fi
done
if [ ${#failed[@]} != 0 ]; then
    echo "fuzz: failed: ${failed[*]}"
    exit 1
fi
echo "fuzz: ${#@} targets ran ${secs}s each without a finding"
