#!/usr/bin/env bash
# The libaioendpoint demo: installs what is needed, builds into build/demo
# and shows the library at work, one section after another.
#
# Sections (each a function named demo_<section>, run in DEMO_SECTIONS order):
#   validate_examples  aioe-validate --json over examples/endpoints/*.yaml,
#                      our valid examples: must all be accepted
#   validate_seed      aioe-validate --json over examples/endpoints/seed/*.yaml,
#                      the seed document's examples verbatim; those holding
#                      template placeholders such as <NAMESPACE> are expected
#                      to be rejected, which does not fail the demo
# To add a section (e.g. the mosquitto bridge demo): write demo_<name>() below
# and append <name> to DEMO_SECTIONS. A section fails the demo by returning
# non-zero.
#
# Usage: tools/demo.sh [SECTION...]   (default: every section)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILDDIR=build/demo
DEMO_SECTIONS=(validate_examples validate_seed)

section() { printf '\n===== %s =====\n' "$*"; }
say() { printf 'demo: %s\n' "$*"; }

# --- Sections. ---------------------------------------------------------------

demo_validate_examples() {
    section "Validating our examples: examples/endpoints/*.yaml"
    local files=()
    shopt -s nullglob
    files=(examples/endpoints/*.yaml)
    shopt -u nullglob
    if [[ ${#files[@]} -eq 0 ]]; then
        say "no examples in examples/endpoints/ yet"
        return 1
    fi
    say "\$ $VALIDATE --json ${files[*]}"
    local rc=0
    "$VALIDATE" --json "${files[@]}" || rc=$?
    if [[ $rc -ne 0 ]]; then
        say "FAILED: aioe-validate exited $rc on our own examples (expected 0)"
        return 1
    fi
    say "all ${#files[@]} example files are valid (one JSON line per endpoint above, defaults filled in)"
}

demo_validate_seed() {
    section "Validating the seed document's examples: examples/endpoints/seed/*.yaml"
    local files=()
    shopt -s nullglob
    files=(examples/endpoints/seed/*.yaml)
    shopt -u nullglob
    if [[ ${#files[@]} -eq 0 ]]; then
        say "no seed examples in examples/endpoints/seed/"
        return 1
    fi
    local errlog rc=0
    errlog=$(mktemp)
    say "\$ $VALIDATE --json ${files[*]}"
    "$VALIDATE" --json "${files[@]}" 2> "$errlog" || rc=$?
    cat "$errlog"
    case $rc in
        0)
            say "all ${#files[@]} seed files are valid"
            ;;
        1)
            say "expected: the seed examples are copied verbatim, and those still holding template placeholders such as <NAMESPACE> must be rejected rather than turned into a session to a host that does not exist"
            # A rejected file without any <PLACEHOLDER> deserves a look.
            local f
            while IFS= read -r f; do
                if [[ -f "$f" ]] && ! grep -qE '<[A-Za-z][A-Za-z0-9 _.-]*>' "$f"; then
                    say "note: $f was rejected but holds no template placeholder; check whether that is intended"
                fi
            done < <(sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: .*/\1/p; s/^\([^:]*\): error: .*/\1/p' "$errlog" | sort -u)
            ;;
        *)
            rm -f "$errlog"
            say "FAILED: aioe-validate exited $rc (usage or I/O error)"
            return 1
            ;;
    esac
    rm -f "$errlog"
}

# (Append new demo_<name> functions here, and <name> to DEMO_SECTIONS.)

# --- Main. -------------------------------------------------------------------

sections=("$@")
[[ ${#sections[@]} -gt 0 ]] || sections=("${DEMO_SECTIONS[@]}")
for s in "${sections[@]}"; do
    declare -F "demo_$s" >/dev/null || { echo "demo: no section '$s' (have: ${DEMO_SECTIONS[*]})" >&2; exit 2; }
done

section "Dependencies"
tools/install-deps.sh

section "Building into $BUILDDIR"
opts=(-Dwarning_level=2 -Dwerror=true -Dbuildtype=debugoptimized -Dexamples=true -Dtests=false -Dbench=false)
if [[ -f $BUILDDIR/meson-private/coredata.dat ]]; then
    meson setup --reconfigure "$BUILDDIR" "${opts[@]}" >/dev/null \
        || meson setup --wipe "$BUILDDIR" "${opts[@]}" >/dev/null
else
    meson setup "$BUILDDIR" "${opts[@]}" >/dev/null
fi
if ! meson compile -C "$BUILDDIR" > "$BUILDDIR/demo-build.log" 2>&1; then
    cat "$BUILDDIR/demo-build.log"
    say "FAILED: build failed"
    exit 1
fi
say "built libaioendpoint $(sed -n 's/^#define AIOE_VERSION_STRING "\(.*\)"/\1/p' "$BUILDDIR/include/version.h")"

VALIDATE=$BUILDDIR/examples/aioe-validate
if [[ ! -x $VALIDATE ]]; then
    say "FAILED: $VALIDATE was not built (is examples/validate/ in the build yet?)"
    exit 1
fi

failed=()
for s in "${sections[@]}"; do
    "demo_$s" || failed+=("$s")
done

section "Done"
if [[ ${#failed[@]} -gt 0 ]]; then
    say "FAILED sections: ${failed[*]}"
    exit 1
fi
say "all sections passed: ${sections[*]}"
