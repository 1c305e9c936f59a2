#!/usr/bin/env bash
# run-long.sh BUILD-DIR [RUNS] [MAX-SECONDS]
# The long fuzz run recorded in docs/security.md: every libFuzzer target of
# BUILD-DIR (a clang build with -Dfuzz=true) for RUNS executions (default
# 10 000 000) or MAX-SECONDS (default 1800) per target, whichever comes
# first, one target at a time, over a scratch copy of its seed corpus.
# Prints one line per target: name, executions, seconds, execs/s, result.
# FUZZ_TIMEOUT (default 10) is libFuzzer's per-input time limit: raise it on
# a loaded machine, where a starved process can take longer than that on an
# input that replays in milliseconds. FUZZ_ARTIFACTS keeps reproducers.
# Not part of the test suite (it takes hours of CPU); tools/test.sh runs
# the short bounded runs of tests/fuzz/run-fuzz.sh instead.
set -uo pipefail
build=${1:?usage: run-long.sh BUILD-DIR [RUNS] [MAX-SECONDS]}
runs=${2:-10000000}
cap=${3:-1800}
here=$(cd "$(dirname "$0")" && pwd)
keep=${FUZZ_ARTIFACTS:-$PWD/fuzz-artifacts}   # reproducers of failures are kept here
status=0
for exe in "$build"/tests/fuzz/fuzz-*; do
    [[ -x $exe && -f $exe ]] || continue
    name=${exe##*/fuzz-}
    corpus=$here/corpus/$name
    dict=$(sed -n "s/^ *'$name' *: *\[[^,]*, *'[^']*', *'\([^']*\)'.*/\1/p" "$here/meson.build")
    scratch=$(mktemp -d)
    cp -r "$corpus"/. "$scratch/" 2>/dev/null || true
    args=(-runs="$runs" -max_total_time="$cap" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb=2048
          -max_len=65536 -artifact_prefix="$scratch/" -print_final_stats=1)
    [[ -n $dict ]] && args+=(-dict="$here/$dict")
    t0=$(date +%s)
    if "$exe" "${args[@]}" "$scratch" > "$scratch.log" 2>&1; then res=ok; else res=FAILED; status=1; fi
    secs=$(( $(date +%s) - t0 ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch.log" | tail -1)
    printf '%-16s %12s execs %6ss %9s/s  %s\n' "$name" "${execs:-?}" "$secs" \
        "$(( ${execs:-0} / (secs > 0 ? secs : 1) ))" "$res"
    if [[ $res != ok ]]; then
        grep -E 'ERROR|SUMMARY' "$scratch.log" | head -5
        mkdir -p "$keep/$name"
        for f in "$scratch"/crash-* "$scratch"/leak-* "$scratch"/timeout-* "$scratch"/oom-*; do
            [[ -e $f ]] && cp "$f" "$keep/$name/" && echo "  kept $keep/$name/${f##*/}"
        done
    fi
    rm -rf "$scratch" "$scratch.log"
done
exit $status
