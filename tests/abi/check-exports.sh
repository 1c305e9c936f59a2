#!/usr/bin/env bash
# Symbol-leak test: the dynamic symbols that the built libaioendpoint.so
# defines must be exactly the `global:` names of lib/libaioendpoint.sym,
# each carrying the version tag of the node that lists it; nothing that is
# not `aioe_`-prefixed may be exported; the SONAME must be the expected one.
#
# Usage: check-exports.sh LIBRARY.so VERSION_SCRIPT [EXPECTED_SONAME]
# (meson passes the arguments; see tests/abi/meson.build.)
set -euo pipefail

if [[ $# -lt 2 || $# -gt 3 ]]; then
    echo "usage: $0 LIBRARY.so VERSION_SCRIPT [EXPECTED_SONAME]" >&2
    exit 2
fi
lib=$1
sym=$2
expected_soname=${3:-libaioendpoint.so.0}

for tool in nm objdump readelf; do
    command -v "$tool" >/dev/null || { echo "check-exports: $tool not found (binutils)" >&2; exit 2; }
done
[[ -r "$lib" ]] || { echo "check-exports: cannot read $lib" >&2; exit 2; }
[[ -r "$sym" ]] || { echo "check-exports: cannot read $sym" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# --- The version script: "NAME NODE" for every global: name. -------------
# Strip "#" line comments and /* */ comments (which may span lines), then
# walk the tokens: "NODE {" opens a node, "global:"/"local:" switch
# sections (a node starts global, as for ld), "}" closes the node.
sed -e 's/#.*$//' "$sym" | tr '\n' ' ' \
    | sed -e 's:/\*[^*]*\*\+\([^/*][^*]*\*\+\)*/: :g' \
          -e 's/\(global\|local\)[[:space:]]*:/ \1: /g' \
          -e 's/[{};]/ & /g' \
    | tr -s ' \t' '\n' \
    | awk '
        /^$/ { next }
        $0 == "{" { in_node = 1; section = "global"; node = prev; next }
        $0 == "}" { in_node = 0; next }
        $0 == ";" { next }
        in_node && $0 == "global:" { section = "global"; next }
        in_node && $0 == "local:"  { section = "local"; next }
        in_node && section == "global" { print $0, node; next }
        { prev = $0 }
      ' | sort -u > "$tmp/script-pairs"

cut -d' ' -f1 "$tmp/script-pairs" | sort -u > "$tmp/script"
nodes=$(cut -d' ' -f2 "$tmp/script-pairs" | sort -u | tr '\n' ' ')

if [[ ! -s "$tmp/script" ]]; then
    fail "no global: names found in $sym"
fi
if grep -q '[*?[]' "$tmp/script"; then
    fail "wildcards in global: sections of $sym (list every symbol by name):"
    grep '[*?[]' "$tmp/script" | sed 's/^/    /'
fi
dups=$(cut -d' ' -f1 "$tmp/script-pairs" | sort | uniq -d)
if [[ -n "$dups" ]]; then
    fail "symbols listed in more than one version node of $sym:"
    echo "$dups" | sed 's/^/    /'
fi

# --- What the library exports. -------------------------------------------
# Version nodes appear as absolute (type A) symbols named after the node.
nm -D --defined-only "$lib" | awk '$2 != "A" { print $3 }' \
    | sed 's/@.*//' | sort -u > "$tmp/exported"

only_lib=$(comm -23 "$tmp/exported" "$tmp/script")
only_script=$(comm -13 "$tmp/exported" "$tmp/script")
if [[ -n "$only_lib" ]]; then
    fail "exported by $(basename "$lib") but not listed in $(basename "$sym"):"
    echo "$only_lib" | sed 's/^/    /'
fi
if [[ -n "$only_script" ]]; then
    fail "listed in $(basename "$sym") but not exported by $(basename "$lib")" \
         "(not defined, or missing AIOE_API):"
    echo "$only_script" | sed 's/^/    /'
fi

non_prefixed=$(grep -v '^aioe_' "$tmp/exported" || true)
if [[ -n "$non_prefixed" ]]; then
    fail "exported symbols without the aioe_ prefix:"
    echo "$non_prefixed" | sed 's/^/    /'
fi

# --- Version tags (objdump -T): every defined aioe_ symbol is tagged with
# the node that lists it. Columns: ... SECTION SIZE [VERSION] NAME; hidden
# versions print as "(NODE)". ---------------------------------------------
objdump -T "$lib" | awk '
    $0 ~ /\*UND\*/ || $0 ~ /\*ABS\*/ { next }
    $NF ~ /^aioe_/ { v = $(NF-1); gsub(/[()]/, "", v); print $NF, v }
  ' | sort -u > "$tmp/tagged"
while read -r name tag; do
    want=$(awk -v n="$name" '$1 == n { print $2; exit }' "$tmp/script-pairs")
    if [[ -z "$want" ]]; then
        continue   # already reported as not listed
    fi
    if [[ "$tag" != "$want" ]]; then
        fail "$name carries version tag '$tag', expected '$want'"
    fi
done < "$tmp/tagged"
untagged=$(comm -23 "$tmp/exported" <(cut -d' ' -f1 "$tmp/tagged") | grep '^aioe_' || true)
if [[ -n "$untagged" ]]; then
    fail "aioe_ symbols without a version tag in objdump -T:"
    echo "$untagged" | sed 's/^/    /'
fi

# --- SONAME. ----------------------------------------------------------------
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
if [[ "$soname" != "$expected_soname" ]]; then
    fail "SONAME is '${soname:-<none>}', expected '$expected_soname'" \
         "(change it only on a real ABI break; see docs/abi.md)"
fi

echo "check-exports: $(wc -l < "$tmp/exported") symbols exported," \
     "$(wc -l < "$tmp/script") listed in nodes: $nodes"
echo "check-exports: SONAME ${soname:-<none>}"
if [[ $failures -ne 0 ]]; then
    echo "check-exports: $failures check(s) failed (policy: docs/abi.md)"
    exit 1
fi
echo "check-exports: OK"
