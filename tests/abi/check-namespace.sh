#!/usr/bin/env bash
# Namespace test: a program that links libaioendpoint, statically or
# dynamically, must not meet any global symbol of ours outside `aioe_`.
#  - the static archive: every global symbol its objects define (functions,
#    data, common and weak symbols) starts with `aioe_` (public API) or
#    `aioe__` (internal, STYLE.md); anything else is a collision waiting
#    to happen in the program that links it;
#  - the shared library: every dynamic symbol it defines starts with
#    `aioe_`, except the version-node names of lib/libaioendpoint.sym.
#
# Usage: check-namespace.sh LIBRARY.a LIBRARY.so VERSION_SCRIPT
set -euo pipefail
if [[ $# -ne 3 ]]; then
    echo "usage: $0 LIBRARY.a LIBRARY.so VERSION_SCRIPT" >&2
    exit 2
fi
archive=$1 shared=$2 sym=$3
command -v nm >/dev/null || { echo "check-namespace: nm not found (binutils)" >&2; exit 2; }
for f in "$archive" "$shared" "$sym"; do
    [[ -r $f ]] || { echo "check-namespace: cannot read $f" >&2; exit 2; }
done
failures=0

# nm -g --defined-only prints "ADDR TYPE NAME" (and "FILE.o:" headers).
bad=$(nm -g --defined-only "$archive" | awk 'NF == 3 && $3 !~ /^aioe_/ { print "  " $2 " " $3 }' | sort -u -k2)
if [[ -n $bad ]]; then
    echo "FAIL: $(basename "$archive") defines $(wc -l <<<"$bad") global symbol(s) outside the aioe_ namespace" \
         "(make them static, or name them aioe__...):"
    echo "$bad"
    failures=$((failures + 1))
else
    echo "check-namespace: $(basename "$archive"): $(nm -g --defined-only "$archive" | awk 'NF == 3' | wc -l) global symbols, all aioe_"
fi

# Version nodes (AIOE_0.1, ...) appear as absolute symbols in .dynsym.
nodes=$(sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_.]*\)[[:space:]]*{.*/\1/p' "$sym" | sort -u)
bad=$(nm -D --defined-only "$shared" \
      | awk -v nodes="$nodes" 'BEGIN { n = split(nodes, a, "\n"); for (i = 1; i <= n; i++) ok[a[i]] = 1 }
                               NF == 3 && $3 !~ /^aioe_/ && !($3 in ok) { print "  " $2 " " $3 }')
if [[ -n $bad ]]; then
    echo "FAIL: $(basename "$shared") exports symbol(s) outside the aioe_ namespace:"
    echo "$bad"
    failures=$((failures + 1))
else
    echo "check-namespace: $(basename "$shared"): every dynamic symbol is aioe_ or a version node"
fi
[[ $failures -eq 0 ]]
