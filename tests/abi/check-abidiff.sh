#!/usr/bin/env bash
# Compares the ABI of the built libaioendpoint.so with the committed
# baseline abi/libaioendpoint.abi (libabigail's abidw + abidiff).
#
# Only types reachable from the public headers count: abidw reads
# include/aioendpoint/ and the build's generated version.h.
#
#   check-abidiff.sh LIBRARY.so SOURCE_ROOT BUILD_ROOT           compare
#   check-abidiff.sh --update LIBRARY.so SOURCE_ROOT BUILD_ROOT  rewrite baseline
#
# Verdict (abidiff's exit status is a bit set):
#   bit 0/1 (1, 2)  abidiff error or usage error            -> fail
#   bit 3   (8)     ABIDIFF_ABI_INCOMPATIBLE_CHANGE           -> fail
#   bit 2   (4)     some change: if the summary shows only additions (no
#                   Removed, no Changed), pass while CHANGELOG.md has an
#                   [Unreleased] section; otherwise fail
# tools/update-abi-baseline.sh regenerates the baseline; docs/abi.md says when.
set -euo pipefail

update=0
if [[ ${1:-} == --update ]]; then
    update=1
    shift
fi
if [[ $# -ne 3 ]]; then
    echo "usage: $0 [--update] LIBRARY.so SOURCE_ROOT BUILD_ROOT" >&2
    exit 2
fi
lib=$1
src=$2
build=$3
baseline=$src/abi/libaioendpoint.abi

for tool in abidw abidiff; do
    command -v "$tool" >/dev/null || { echo "check-abidiff: $tool not found (abigail-tools)" >&2; exit 2; }
done
[[ -r "$lib" ]] || { echo "check-abidiff: cannot read $lib" >&2; exit 2; }
[[ -r "$build/include/version.h" ]] || { echo "check-abidiff: $build/include/version.h missing" >&2; exit 2; }

# Without DWARF abidw sees only symbol names, and every type would look
# changed against the baseline: say so instead.
if ! readelf -S "$lib" | grep -q '\.debug_info'; then
    echo "check-abidiff: $lib has no debug info; build with -g (buildtype debug or debugoptimized)" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Flags that keep the XML independent of where the tree and build dir are,
# so the committed baseline compares equal on any machine.
abidw --headers-dir "$src/include/aioendpoint" \
      --headers-dir "$build/include" \
      --drop-private-types --exported-interfaces-only \
      --no-corpus-path --no-comp-dir-path --no-elf-needed --short-locs \
      --out-file "$tmp/current.abi" "$lib"

if [[ $update -eq 1 ]]; then
    mkdir -p "$(dirname "$baseline")"
    cp "$tmp/current.abi" "$baseline"
    echo "check-abidiff: wrote $baseline"
    exit 0
fi

if [[ ! -r "$baseline" ]]; then
    echo "check-abidiff: no baseline at $baseline; run tools/update-abi-baseline.sh" >&2
    exit 1
fi

rc=0
abidiff "$baseline" "$tmp/current.abi" > "$tmp/report" 2>&1 || rc=$?

unreleased=0
if grep -q '^## \[Unreleased\]' "$src/CHANGELOG.md" 2>/dev/null; then
    unreleased=1
fi

if (( rc & 3 )); then
    cat "$tmp/report"
    echo "check-abidiff: FAIL: abidiff could not compare (exit $rc)"
    exit 1
fi
if (( rc & 8 )); then
    cat "$tmp/report"
    echo "check-abidiff: FAIL: incompatible ABI change against abi/libaioendpoint.abi (exit $rc)."
    echo "check-abidiff: released symbols must not change; add a new ..._2 function instead."
    echo "check-abidiff: if the changed symbols were never released, run tools/update-abi-baseline.sh"
    echo "check-abidiff: and commit abi/libaioendpoint.abi (see docs/abi.md)."
    exit 1
fi
if (( rc & 4 )); then
    cat "$tmp/report"
    # abidiff flags only removals as incompatible; a changed parameter or
    # return type is "just" a change (bit 2). Of all changes, only additions
    # are compatible for users, so anything Removed or Changed fails here.
    removed_or_changed=$(grep 'changes summary:' "$tmp/report" \
        | grep -oE '[0-9]+ (Removed|Changed)' | awk '{ n += $1 } END { print n + 0 }')
    if [[ $removed_or_changed -ne 0 ]]; then
        echo "check-abidiff: FAIL: $removed_or_changed removed or changed function(s)/variable(s) against abi/libaioendpoint.abi."
        echo "check-abidiff: released symbols must not change; add a new ..._2 function instead."
        echo "check-abidiff: if the changed symbols were never released, run tools/update-abi-baseline.sh"
        echo "check-abidiff: and commit abi/libaioendpoint.abi (see docs/abi.md)."
        exit 1
    fi
    if [[ $unreleased -eq 1 ]]; then
        echo "check-abidiff: OK: compatible additions since the baseline (allowed while CHANGELOG.md has [Unreleased])"
        exit 0
    fi
    echo "check-abidiff: FAIL: the ABI differs from the baseline but CHANGELOG.md has no [Unreleased] section."
    echo "check-abidiff: a released tree must match its baseline; see docs/abi.md."
    exit 1
fi
echo "check-abidiff: OK: ABI identical to abi/libaioendpoint.abi"
