#!/usr/bin/env bash
# Regenerates abi/libaioendpoint.abi, the baseline that the `abi` test suite
# (tests/abi/check-abidiff.sh) compares every build with.
#
# Run it at each release, and when a change to a not-yet-released symbol is
# intended (docs/abi.md). Then review and commit the result:
#   tools/update-abi-baseline.sh && git diff --stat abi/ debian/ && git commit abi/libaioendpoint.abi debian/libaioendpoint0.symbols
# It also rewrites debian/libaioendpoint0.symbols from lib/libaioendpoint.sym.
#
# Builds into build/abi with the project's default options (gcc, -g), so the
# baseline does not depend on anyone's personal build directory.
set -euo pipefail
cd "$(dirname "$0")/.."

builddir=build/abi
opts=(-Dwarning_level=2 -Dwerror=true -Dbuildtype=debugoptimized -Dtests=false -Dbench=false -Dexamples=false)
if [[ -f $builddir/meson-private/coredata.dat ]]; then
    meson setup --reconfigure "$builddir" "${opts[@]}" >/dev/null \
        || meson setup --wipe "$builddir" "${opts[@]}" >/dev/null
else
    meson setup "$builddir" "${opts[@]}" >/dev/null
fi
if ! meson compile -C "$builddir" > "$builddir/update-abi-baseline.log" 2>&1; then
    tail -n 40 "$builddir/update-abi-baseline.log" >&2
    echo "update-abi-baseline: build failed; the baseline was not changed" >&2
    exit 1
fi

lib=$(find "$builddir/lib" -maxdepth 1 -name 'libaioendpoint.so.*.*' -type f -print -quit)
[[ -n "$lib" ]] || { echo "update-abi-baseline: libaioendpoint.so not built in $builddir" >&2; exit 1; }
tests/abi/check-abidiff.sh --update "$lib" "$PWD" "$PWD/$builddir"
git --no-pager diff --stat -- abi/libaioendpoint.abi || true
# The Debian symbols file follows the version script (docs/packaging.md).
tools/debian-symbols.sh --update
git --no-pager diff --stat -- debian/libaioendpoint0.symbols || true
