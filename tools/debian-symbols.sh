#!/usr/bin/env bash
# Writes or checks debian/libaioendpoint0.symbols, the Debian symbols file
# of the shared library, from lib/libaioendpoint.sym (the version script):
# every `global:` name of node AIOE_X.Y, and the node itself, becomes
# "NAME@AIOE_X.Y X.Y.0" (the release that introduced it).
#
#   tools/debian-symbols.sh           print the file to stdout
#   tools/debian-symbols.sh --update  rewrite debian/libaioendpoint0.symbols
#   tools/debian-symbols.sh --check   exit 1 (with a diff) when it is stale
#
# tools/update-abi-baseline.sh runs --update; the `abi` suite runs --check.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sym=$root/lib/libaioendpoint.sym
out=$root/debian/libaioendpoint0.symbols
mode=${1:-print}

generate() {
    echo "libaioendpoint.so.0 libaioendpoint0 #MINVER#"
    echo "* Build-Depends-Package: libaioendpoint-dev"
    # Same tokenising as tests/abi/check-exports.sh: strip comments, split
    # on braces, semicolons and section labels.
    sed -e 's/#.*$//' "$sym" | tr '\n' ' ' \
        | sed -e 's:/\*[^*]*\*\+\([^/*][^*]*\*\+\)*/: :g' \
              -e 's/\(global\|local\)[[:space:]]*:/ \1: /g' \
              -e 's/[{};]/ & /g' \
        | tr -s ' \t' '\n' \
        | awk '
            /^$/ { next }
            $0 == "{" { innode = 1; section = "global"; next }
            $0 == "}" { innode = 0; closing = 1; next }
            $0 == ";" { next }
            $0 == "global:" { section = "global"; next }
            $0 == "local:" { section = "local"; next }
            !innode && closing { closing = 0; next }   # "} AIOE_0.1;" (inherited node)
            !innode { node = $0; v = node; sub(/^AIOE_/, "", v)
                      if (v ~ /^[0-9]+\.[0-9]+$/) v = v ".0"
                      print " " node "@" node " " v; next }
            section == "global" { print " " $0 "@" node " " v }
          ' \
        | LC_ALL=C sort
}

case $mode in
    print) generate ;;
    --update) generate > "$out"; echo "debian-symbols: wrote ${out#"$root"/} ($(($(wc -l < "$out") - 2)) symbols)" ;;
    --check)
        if ! diff -u "$out" <(generate) >&2; then
            echo "debian-symbols: debian/libaioendpoint0.symbols does not match lib/libaioendpoint.sym;" \
                 "run tools/debian-symbols.sh --update (tools/update-abi-baseline.sh does)" >&2
            exit 1
        fi
        echo "debian-symbols: debian/libaioendpoint0.symbols matches lib/libaioendpoint.sym" ;;
    *) echo "usage: $0 [--update|--check]" >&2; exit 2 ;;
esac
