#!/usr/bin/env bash
# run-fuzz.sh TARGET CORPUS-DIR SECONDS [DICT]
# A short, bounded libFuzzer run for the test suite. New inputs go to a
# scratch directory (the committed corpus stays untouched); a crash leaves
# its reproducer there and fails the test.
set -euo pipefail
target=$1 corpus=$2 seconds=$3 dict=${4:-}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536
      -artifact_prefix="$scratch/" -print_final_stats=1)
[[ -n $dict ]] && args+=(-dict="$dict")
if ! "$target" "${args[@]}" "$scratch" "$corpus"; then
    echo "fuzz: $target failed; reproducer(s):" >&2
    for f in "$scratch"/crash-* "$scratch"/leak-* "$scratch"/timeout-* "$scratch"/oom-*; do
        [[ -e $f ]] || continue
        echo "--- $f" >&2
        base64 "$f" >&2
    done
    exit 1
fi
