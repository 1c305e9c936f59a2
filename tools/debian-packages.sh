#!/usr/bin/env bash
# Builds the Debian packages (libaioendpoint0, libaioendpoint-dev,
# aioendpoint-tools) from the working tree with dpkg-buildpackage, checks
# them with lintian (any error fails), installs them with apt, and compiles
# and runs examples/consumer/print-version.c against the installed -dev
# package (shared and static), then removes the packages again.
#
#   tools/debian-packages.sh [--keep] [--out DIR]
#
#   --keep     leave the packages installed
#   --out DIR  copy the .deb, .changes and lintian report to DIR
#
# Needs root or sudo (apt). On a fresh Debian 12 it first runs
# tools/install-deps.sh. No network is used by the build itself.
# Timing on 2 shared cores: see docs/packaging.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

keep=0
out=
while [[ $# -gt 0 ]]; do
    case $1 in
        --keep) keep=1 ;;
        --out) out=$2; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "debian-packages: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

started=$(date +%s)
say() { printf 'debian-packages: %s\n' "$*"; }
die() { printf 'debian-packages: FAIL: %s\n' "$*" >&2; exit 1; }

if [[ $(id -u) -eq 0 ]]; then SUDO=(); else SUDO=(sudo); fi
tools/install-deps.sh >/dev/null

version=$(dpkg-parsechangelog -l debian/changelog -S Version)
packages=(libaioendpoint0 libaioendpoint-dev aioendpoint-tools)
tmp=$(mktemp -d)
installed_here=0
cleanup() {
    if [[ $installed_here -eq 1 && $keep -eq 0 ]]; then
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "${packages[@]}" >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# --- 1. A clean copy of the tree: tracked and new files, no build dirs. -----
upstream=${version%-*}
src=$tmp/libaioendpoint-$upstream
mkdir -p "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard \
        | while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done \
        | tar --null -T - -cf - | tar -xf - -C "$src"
else
    tar --exclude='./build*' --exclude=./.git -cf - . | tar -xf - -C "$src"
fi
# The upstream tarball that the 3.0 (quilt) source package is built from:
# the same tree without debian/.
tar -C "$tmp" --exclude="libaioendpoint-$upstream/debian" -cJf "$tmp/libaioendpoint_$upstream.orig.tar.xz" \
    "libaioendpoint-$upstream"
tools/debian-symbols.sh --check >/dev/null || die "debian/libaioendpoint0.symbols is stale (tools/debian-symbols.sh --update)"

# --- 2. dpkg-buildpackage (source and binaries, unsigned). ------------------
say "dpkg-buildpackage in $src"
t0=$(date +%s)
if ! (cd "$src" && dpkg-buildpackage -us -uc) > "$tmp/build.log" 2>&1; then
    tail -n 60 "$tmp/build.log" >&2
    die "dpkg-buildpackage failed (log above)"
fi
grep -E '^dpkg-gensymbols: warning' "$tmp/build.log" && die "dpkg-gensymbols: the symbols file and the library disagree"
if grep -q 'warning:' "$tmp/build.log"; then
    grep 'warning:' "$tmp/build.log" >&2
    die "compiler or packaging warnings in the package build"
fi
say "built in $(( $(date +%s) - t0 ))s: $(cd "$tmp" && ls ./*.deb | xargs -n1 basename | tr '\n' ' ')"
changes=$(ls "$tmp"/libaioendpoint_"$version"_*.changes)
if [[ -n $out ]]; then
    mkdir -p "$out"
    cp "$tmp"/*.deb "$tmp"/*.changes "$tmp"/*.buildinfo "$tmp"/*.dsc "$tmp"/*.tar.* "$tmp/build.log" "$out"/
    say "packages copied to $out"
fi

# --- 3. lintian: errors fail, the rest is printed. --------------------------
t0=$(date +%s)
lintian_rc=0
lintian --fail-on error --display-info "$changes" > "$tmp/lintian.txt" 2>&1 || lintian_rc=$?
cat "$tmp/lintian.txt"
[[ -z $out ]] || cp "$tmp/lintian.txt" "$out"/
[[ $lintian_rc -eq 0 ]] || die "lintian reports errors"
say "lintian: no errors ($(grep -c '^W:' "$tmp/lintian.txt" || true) warnings, $(grep -c '^I:' "$tmp/lintian.txt" || true) infos) in $(( $(date +%s) - t0 ))s"

# --- 4. No RUNPATH in the packaged tools; the symbols file is shipped. ------
for deb in "$tmp"/aioendpoint-tools_*.deb; do
    dpkg-deb -x "$deb" "$tmp/x-tools"
    for exe in "$tmp"/x-tools/usr/bin/*; do
        if readelf -d "$exe" | grep -qE '\((RPATH|RUNPATH)\)'; then
            die "$(basename "$exe") carries an RPATH/RUNPATH in the package"
        fi
    done
done
dpkg-deb -I "$tmp"/libaioendpoint0_*.deb symbols >/dev/null || die "libaioendpoint0 has no symbols control file"

# --- 5. Install with apt, then build against the installed -dev package. ---
for p in "${packages[@]}"; do
    if dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii'; then
        say "note: $p was installed before; it is replaced, and removed at the end unless --keep"
    fi
done
installed_here=1
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "$tmp"/libaioendpoint0_*.deb "$tmp"/libaioendpoint-dev_*.deb "$tmp"/aioendpoint-tools_*.deb \
    > "$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log" >&2; die "apt-get install of the packages failed"; }

consumer=$root/examples/consumer/print-version.c
# shellcheck disable=SC2046  # word splitting of pkg-config output is intended
cc -Wall -Wextra -Werror -o "$tmp/print-version" "$consumer" \
    $(pkg-config --cflags --libs libaioendpoint) || die "print-version does not build against the -dev package"
lib=$(ldd "$tmp/print-version" | awk '/libaioendpoint/ { print $3 }')
[[ $(realpath "$lib") == /usr/lib/*/libaioendpoint.so.0.* ]] || die "print-version loads '$lib', not the packaged library"
say "shared: $("$tmp/print-version")  ($lib)"
# Static: the archive plus the private dependencies that --static names.
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror -o "$tmp/print-version-static" "$consumer" \
    $(pkg-config --cflags libaioendpoint) -Wl,-Bstatic -laioendpoint -Wl,-Bdynamic \
    $(pkg-config --static --libs libaioendpoint | sed 's/-laioendpoint//') \
    || die "print-version does not link against libaioendpoint.a with pkg-config --static"
ldd "$tmp/print-version-static" | grep -q libaioendpoint && die "the static build still loads libaioendpoint.so"
say "static: $("$tmp/print-version-static")"

[[ $(pkg-config --cflags libaioendpoint) == "" || $(pkg-config --cflags libaioendpoint) == "-I/usr/include" ]] \
    || die "pkg-config --cflags names more than the system include directory: $(pkg-config --cflags libaioendpoint)"
for t in aioe-validate aioe-bridge aioe-pub aioe-sub; do
    "/usr/bin/$t" --version >/dev/null || die "installed $t --version failed"
done
/usr/bin/aioe-validate --quiet "$root"/examples/endpoints/local-mosquitto.yaml || die "installed aioe-validate rejects an example"
say "installed tools run: $(/usr/bin/aioe-validate --version | head -2 | tr '\n' ' ')"

[[ $keep -eq 1 ]] && say "packages left installed (--keep)"
say "OK in $(( $(date +%s) - started ))s"
