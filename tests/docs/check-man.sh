#!/usr/bin/env bash
# check-man.sh SOURCE-ROOT VERSION [TOOL=PATH...]
# The man pages in docs/man (suite `docs`):
#  - each renders with `groff -man -ww` and with lintian's own command
#    (`man --warnings -l`) without a single warning;
#  - each .TH names its file (NAME SECTION) and the project VERSION;
#  - with TOOL=PATH arguments: every long option that `TOOL --help` lists
#    is documented in TOOL.1, and every option TOOL.1 documents exists;
#  - every AIOE_ERR_ code of include/aioendpoint/common.h is listed in
#    aioe_strerror.3.
set -uo pipefail
src=$1 version=$2
shift 2
man=$src/docs/man
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
export LC_ALL=C.UTF-8 MANWIDTH=80

pages=("$man"/*.[1-9])
[[ -e ${pages[0]} ]] || { echo "FAIL: no man pages in $man" >&2; exit 1; }
for page in "${pages[@]}"; do
    name=$(basename "$page")
    if ! groff -man -Tutf8 -ww -z "$page" 2>"$tmp/err" || [[ -s $tmp/err ]]; then
        fail "$name: groff -man -ww: $(cat "$tmp/err")"
    fi
    if command -v man >/dev/null; then
        # What lintian runs (groff-message tag).
        if ! man --warnings -E UTF-8 -l -Tutf8 -Z "$page" >/dev/null 2>"$tmp/err" || [[ -s $tmp/err ]]; then
            fail "$name: man --warnings -l: $(cat "$tmp/err")"
        fi
    fi
    th=$(sed -n 's/^\.TH \([^ ]*\) \([0-9]\) .*/\1 \2/p' "$page")
    want="${name%.*} ${name##*.}"
    [[ ${th,,} == "${want,,}" ]] || fail "$name: .TH says '$th', expected '$want'"
    grep -q "^\\.TH [^ ]* [0-9] [0-9-]* \"libaioendpoint $version\"" "$page" \
        || fail "$name: .TH does not say \"libaioendpoint $version\" (update the pages on a release)"
    grep -q '^\.SH NAME$' "$page" || fail "$name: no NAME section"
done

# Tool options: --help and the man page agree.
for arg in "$@"; do
    tool=${arg%%=*} exe=${arg#*=}
    page=$man/$tool.1
    [[ -f $page ]] || { fail "$tool has no man page $page"; continue; }
    "$exe" --help >"$tmp/help" 2>&1 || fail "$tool --help failed"
    grep -o -- '--[a-z][a-z0-9-]*' "$tmp/help" | sort -u >"$tmp/help-opts"
    # In roff a documented option is written \-\-name.
    grep -o -- '\\-\\-[a-z][a-z0-9\\-]*' "$page" | sed 's/\\-/-/g' | sort -u >"$tmp/man-opts"
    while read -r o; do
        grep -qx -- "$o" "$tmp/man-opts" || fail "$tool.1 does not document $o (listed by --help)"
    done <"$tmp/help-opts"
    while read -r o; do
        [[ $o == --count || $o == -- ]] && continue   # mentioned in prose
        grep -qx -- "$o" "$tmp/help-opts" || fail "$tool.1 documents $o, which $tool --help does not list"
    done < <(grep -B1 -- '^\.B[IR]* *\\-' "$page" | grep -A1 '^\.TP' | grep -o -- '^\.B[IR]* *\\-\\-[a-z][a-z0-9\\-]*' \
             | sed 's/^\.B[IR]* *//; s/\\-/-/g' | sort -u)
done

# Status codes: every AIOE_ERR_ code is in aioe_strerror.3.
if [[ -f $man/aioe_strerror.3 ]]; then
    while read -r code; do
        grep -q "^\.BR $code " "$man/aioe_strerror.3" || fail "aioe_strerror.3 does not list $code"
    done < <(grep -o 'AIOE_ERR_[A-Z_]* *=' "$src/include/aioendpoint/common.h" | sed 's/ *=//')
else
    fail "no aioe_strerror.3"
fi

if [[ $failures -gt 0 ]]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "man pages: ${#pages[@]} pages render without warnings; options and status codes agree"
