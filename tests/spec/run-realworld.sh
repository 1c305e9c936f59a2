#!/usr/bin/env bash
# run-realworld.sh AIOE-VALIDATE DIR
# The real-world corpus (issue #18): every DIR/NAME.yaml has DIR/NAME.expect,
# lines of `key: value`:
#   verdict: valid | invalid   aioe-validate's exit status must be 0 | 1
#   with: OTHER.yaml           also give OTHER.yaml (endpoints a Dataflow names)
#   expect: TEXT               TEXT must appear in stdout or stderr (one per line)
#   reject: TEXT               TEXT must not appear
#   errors: N                  exactly N error lines
# aioe-validate runs with --json, so valid documents are checked field by
# field through their JSON lines. See tests/spec/realworld/README.md.
set -uo pipefail
validate=$1 dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0 count=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

for doc in "$dir"/*.yaml; do
    name=$(basename "$doc" .yaml)
    exp="$dir/$name.expect"
    count=$((count + 1))
    if [[ ! -f $exp ]]; then
        fail "$name: no $name.expect"
        continue
    fi
    verdict="" errors="" files=("$doc")
    expects=() rejects=()
    while IFS= read -r line || [[ -n $line ]]; do
        [[ -z $line || $line == \#* ]] && continue
        key=${line%%:*} value=${line#*: }
        case $key in
            verdict) verdict=$value ;;
            with) files+=("$dir/$value") ;;
            expect) expects+=("$value") ;;
            reject) rejects+=("$value") ;;
            errors) errors=$value ;;
            *) fail "$name.expect: unknown key '$key'" ;;
        esac
    done <"$exp"
    case $verdict in
        valid) want=0 ;;
        invalid) want=1 ;;
        *) fail "$name.expect: verdict must be valid or invalid"; continue ;;
    esac
    "$validate" --json "${files[@]}" >"$tmp/out" 2>"$tmp/err"
    got=$?
    cat "$tmp/out" "$tmp/err" >"$tmp/all"
    if [[ $got -ne $want ]]; then
        fail "$name: exit status $got, expected $want ($verdict):"$'\n'"$(cat "$tmp/all")"
        continue
    fi
    for e in "${expects[@]}"; do
        grep -qF -- "$e" "$tmp/all" || fail "$name: output lacks '$e':"$'\n'"$(cat "$tmp/all")"
    done
    for r in "${rejects[@]}"; do
        ! grep -qF -- "$r" "$tmp/all" || fail "$name: output has '$r':"$'\n'"$(cat "$tmp/all")"
    done
    if [[ -n $errors ]]; then
        n=$(grep -c ": error: " "$tmp/err")
        [[ $n -eq $errors ]] || fail "$name: $n error lines, expected $errors:"$'\n'"$(cat "$tmp/err")"
    fi
    if [[ $verdict == valid ]] && grep -q ": error: " "$tmp/err"; then
        fail "$name: valid but printed errors: $(cat "$tmp/err")"
    fi
done

if [[ $count -lt 30 ]]; then
    fail "the corpus has $count documents; it must keep at least 30"
fi
if [[ $failures -gt 0 ]]; then
    echo "$failures of $count corpus checks failed" >&2
    exit 1
fi
echo "realworld corpus: $count documents, all as expected"
