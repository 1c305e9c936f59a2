#!/usr/bin/env bash
# Installs the build into a temporary DESTDIR and checks the installed
# tools (aioe-validate, aioe-bridge, aioe-pub, aioe-sub):
#  - with -Dtools_rpath=true (the default) each one carries the RUNPATH
#    $ORIGIN/../LIBDIR, resolves libaioendpoint.so.0 to the installed copy
#    and runs `--version` with LD_LIBRARY_PATH unset, whatever the prefix;
#  - with -Dtools_rpath=false (distribution packages) none carries an
#    RPATH or RUNPATH;
#  - every man page (docs/man) is installed, and every page of docs/ with
#    README.md and CHANGELOG.md under DATADIR/doc/libaioendpoint.
#
# Usage: check-installed-tools.sh BUILD_ROOT PREFIX BINDIR LIBDIR MANDIR DATADIR TOOLS_RPATH
set -euo pipefail
if [[ $# -ne 7 ]]; then
    echo "usage: $0 BUILD_ROOT PREFIX BINDIR LIBDIR MANDIR DATADIR TOOLS_RPATH" >&2
    exit 2
fi
build=$1 prefix=$2 bindir=$3 libdir=$4 mandir=$5 datadir=$6 rpath=$7
src=$(cd "$(dirname "$0")/../.." && pwd)
tools=(aioe-validate aioe-bridge aioe-pub aioe-sub)
abs() { case $1 in /*) echo "$1" ;; *) echo "$prefix/$1" ;; esac; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

dest=$tmp/dest
if ! meson install -C "$build" --no-rebuild --quiet --destdir "$dest" > "$tmp/install.log" 2>&1; then
    cat "$tmp/install.log"
    echo "check-installed-tools: FAIL: meson install failed"
    exit 1
fi
bin=$dest$(abs "$bindir")
lib=$dest$(abs "$libdir")
man=$dest$(abs "$mandir")
doc=$dest$(abs "$datadir")/doc/libaioendpoint

for t in "${tools[@]}"; do
    exe=$bin/$t
    [[ -x $exe ]] || { fail "$t not installed in $bin"; continue; }
    runpath=$(readelf -d "$exe" | sed -n 's/.*(\(RPATH\|RUNPATH\)).*\[\(.*\)\]/\2/p')
    if [[ $rpath == true ]]; then
        [[ $runpath == "\$ORIGIN/"* ]] || fail "$t: RUNPATH '$runpath' is not \$ORIGIN-relative"
        resolved=$(env -u LD_LIBRARY_PATH ldd "$exe" | awk '/libaioendpoint/ { print $3 }')
        [[ $(realpath -m "$resolved") == $(realpath -m "$lib")/* ]] \
            || fail "$t resolves libaioendpoint to '${resolved:-nothing}', not $lib"
        if out=$(env -u LD_LIBRARY_PATH "$exe" --version 2>&1); then
            echo "check-installed-tools: $t: $(head -1 <<<"$out")"
        else
            fail "$t --version failed without LD_LIBRARY_PATH: $out"
        fi
    else
        [[ -z $runpath ]] || fail "$t carries RPATH/RUNPATH '$runpath' with -Dtools_rpath=false"
    fi
done

# Man pages: docs/man/*.[0-9] are installed in their sections.
for page in "$src"/docs/man/*.[0-9]; do
    [[ -e $page ]] || continue
    name=$(basename "$page")
    [[ -f $man/man${name##*.}/$name ]] || fail "man page $name not installed in $man/man${name##*.}"
done
# Documentation: docs/*.md, README.md, CHANGELOG.md.
for f in "$src"/docs/*.md "$src/README.md" "$src/CHANGELOG.md"; do
    [[ -f $doc/$(basename "$f") ]] || fail "$(basename "$f") not installed in $doc"
done
[[ ! -e $doc/meson.build && ! -e $doc/man ]] || fail "$doc holds build files or the man sources"

if [[ $failures -ne 0 ]]; then
    echo "check-installed-tools: $failures check(s) failed"
    exit 1
fi
echo "check-installed-tools: OK"
