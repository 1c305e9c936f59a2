#!/usr/bin/env bash
# Installs the build into a temporary DESTDIR and checks what a user gets:
#  - pkg-config finds libaioendpoint and reports the project version;
#    --cflags names only our include directory, --static --libs names
#    every private dependency;
#  - examples/consumer/print-version.c compiles with nothing but
#    `cc $(pkg-config --cflags --libs libaioendpoint) -Wall -Wextra -Werror`,
#    links the installed library (not the build tree's) and runs;
#  - the installed headers include only <stddef.h>, <stdint.h>, <stdbool.h>
#    and each other, each compiles on its own as C and the umbrella header
#    as C++.
#
# Usage: check-pkgconfig.sh SOURCE_ROOT BUILD_ROOT PREFIX PROJECT_VERSION
set -euo pipefail

if [[ $# -ne 4 ]]; then
    echo "usage: $0 SOURCE_ROOT BUILD_ROOT PREFIX PROJECT_VERSION" >&2
    exit 2
fi
src=$1
build=$2
prefix=$3
version=$4
CC=${CC:-cc}
CXX=${CXX:-c++}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

dest=$tmp/dest
root=$dest$prefix
if ! meson install -C "$build" --no-rebuild --quiet --destdir "$dest" > "$tmp/install.log" 2>&1; then
    cat "$tmp/install.log"
    echo "check-pkgconfig: FAIL: meson install failed"
    exit 1
fi

pc=$(find "$root" -name libaioendpoint.pc -print -quit)
if [[ -z "$pc" ]]; then
    echo "check-pkgconfig: FAIL: libaioendpoint.pc was not installed under $root"
    exit 1
fi
echo "check-pkgconfig: installed $(realpath --relative-to="$dest" "$pc")"

pkgconf() {
    PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --define-variable=prefix="$root" "$@"
}

modversion=$(pkgconf --modversion libaioendpoint)
if [[ "$modversion" != "$version" ]]; then
    fail "pkg-config --modversion says '$modversion', project version is '$version'"
fi

cflags=$(pkgconf --cflags libaioendpoint)
libs=$(pkgconf --libs libaioendpoint)
libdir=$(pkgconf --variable=libdir libaioendpoint)
includedir=$(pkgconf --variable=includedir libaioendpoint)
echo "check-pkgconfig: cflags: $cflags"
echo "check-pkgconfig: libs:   $libs"
# Cflags name only our include directory: the dependencies' include
# directories (-I/usr/include/uuid, -I/usr/include/json-c) are private.
# (pkg-config --cflags adds the Cflags of Requires.private modules too.)
read -r -a cflag_words <<<"$cflags"
if [[ ${#cflag_words[@]} -ne 1 || ${cflag_words[0]} != "-I$includedir" ]]; then
    fail "pkg-config --cflags is '$cflags', expected only -I$includedir"
fi
# A static link needs the private dependencies: --static --libs names them.
static_libs=$(pkgconf --static --libs libaioendpoint)
for l in -luuid -ljson-c -lcjson -lpaho-mqtt3as -lyaml -lssl -lcrypto; do
    grep -qw -- "$l" <<<"$static_libs" || fail "pkg-config --static --libs lacks $l: $static_libs"
done
case "$libdir" in "$root"/*) ;; *) fail "libdir '$libdir' is not inside the install root";; esac
case "$includedir" in "$root"/*) ;; *) fail "includedir '$includedir' is not inside the install root";; esac

# --- The consumer program. ---------------------------------------------------
# shellcheck disable=SC2086  # word splitting of pkg-config output is intended
if "$CC" -Wall -Wextra -Werror -o "$tmp/print-version" \
        "$src/examples/consumer/print-version.c" $cflags $libs 2> "$tmp/cc.log"; then
    resolved=$(LD_LIBRARY_PATH=$libdir ldd "$tmp/print-version" | awk '/libaioendpoint/ { print $3 }')
    case "$resolved" in
        "$libdir"/*) ;;
        *) fail "print-version resolves libaioendpoint to '${resolved:-nothing}', not the installed $libdir";;
    esac
    if out=$(LD_LIBRARY_PATH=$libdir "$tmp/print-version" 2>&1); then
        echo "check-pkgconfig: print-version: $out"
    else
        fail "print-version failed: $out"
    fi
else
    cat "$tmp/cc.log"
    fail "examples/consumer/print-version.c does not compile with pkg-config flags alone"
fi

# --- Installed headers. ------------------------------------------------------
hdrdir=$includedir/aioendpoint
if [[ ! -f "$hdrdir/aioendpoint.h" || ! -f "$hdrdir/version.h" ]]; then
    fail "aioendpoint.h or version.h not installed in $hdrdir"
fi
for h in "$hdrdir"/*.h; do
    name=$(basename "$h")
    while IFS= read -r line; do
        inc=$(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*\([<"][^>"]*[>"]\).*/\1/p' <<<"$line")
        case "$inc" in
            '<stddef.h>'|'<stdint.h>'|'<stdbool.h>') ;;
            \"*\")
                f=${inc#\"}; f=${f%\"}
                [[ -f "$hdrdir/$f" ]] || fail "$name includes $inc, which is not an installed header"
                ;;
            '<aioendpoint/'*'>')
                f=${inc#<aioendpoint/}; f=${f%>}
                [[ -f "$hdrdir/$f" ]] || fail "$name includes $inc, which is not an installed header"
                ;;
            *) fail "$name includes $inc (public headers may include only <stddef.h>, <stdint.h>, <stdbool.h> and our own)";;
        esac
    done < <(grep -E '^[[:space:]]*#[[:space:]]*include' "$h")

    # shellcheck disable=SC2086
    if ! printf '#include <aioendpoint/%s>\ntypedef int aioe_header_check;\n' "$name" \
            | "$CC" -std=c99 -Wall -Wextra -Werror -pedantic -fsyntax-only $cflags -x c - 2> "$tmp/hdr.log"; then
        cat "$tmp/hdr.log"
        fail "$name does not compile on its own as C99"
    fi
done
if command -v "$CXX" >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    if ! printf '#include <aioendpoint/aioendpoint.h>\nint main() { return aioe_version() ? 0 : 1; }\n' \
            | "$CXX" -Wall -Wextra -Werror -fsyntax-only $cflags -x c++ - 2> "$tmp/hdr.log"; then
        cat "$tmp/hdr.log"
        fail "aioendpoint.h does not compile as C++"
    fi
fi

if [[ $failures -ne 0 ]]; then
    echo "check-pkgconfig: $failures check(s) failed"
    exit 1
fi
echo "check-pkgconfig: OK (pkg-config $modversion, consumer ran against the installed tree)"
