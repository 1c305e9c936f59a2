#!/usr/bin/env bash
# Every test of libaioendpoint, as CI runs it (.ci/run calls this script).
#
#   1. tools/install-deps.sh (fast when everything is installed)
#   2. build/test  gcc, -Wall -Wextra -Werror: every meson test suite
#      build/release-gcc, build/release-clang: `--buildtype=release` with
#                  default options (werror off), no compiler warning
#                  allowed; suite `unit`
#   3. build/asan  gcc, ASan + UBSan, leaks fatal: every suite except
#                  `abi` and `install` (sanitizers change the exports)
#   4. build/tsan  gcc, ThreadSanitizer: the unit and integration suites
#   5. build/fuzz  clang, ASan+UBSan: suite `fuzz`, a short bounded libFuzzer
#                  run of each target in tests/fuzz/
#
# The last line printed is "N passed, N failed" (", N skipped" when some
# were), counted over the meson tests of all builds; the exit status is
# non-zero when any test failed or any build could not be configured or
# compiled (each such step counts as one failure).
#
# Options: --no-asan skips the ASan and TSan builds (quicker local runs; CI
# never passes it).
#
# Not run here: tools/debian-packages.sh (build, lintian and install the
# Debian packages; 3 to 6 minutes on two cores, docs/packaging.md).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

run_asan=1
for arg in "$@"; do
    case "$arg" in
        --no-asan) run_asan=0 ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "test.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

started=$(date +%s)
total_pass=0
total_fail=0
total_skip=0
summary=()   # one line per build, printed at the end
failed=()    # names of failed tests and steps

section() { printf '\n===== %s =====\n' "$*"; }

# The project's warning policy, passed explicitly so no personal
# default can weaken it.
common_opts=(-Dwarning_level=2 -Dwerror=true -Dbuildtype=debugoptimized -Dtests=true)

# configure DIR OPTION...: set up DIR, or reconfigure it when it exists.
configure() {
    local dir=$1
    shift
    if [[ -f $dir/meson-private/coredata.dat ]]; then
        meson setup --reconfigure "$dir" "$@" || meson setup --wipe "$dir" "$@"
    else
        rm -rf "$dir"
        meson setup "$dir" "$@"
    fi
}

# count_results TESTLOG: prints "passed failed skipped names-of-failures..."
count_results() {
    python3 - "$1" <<'PY'
import json, sys
passed = failed = skipped = 0
bad = []
try:
    lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
except FileNotFoundError:
    lines = []
for line in lines:
    if not line.strip():
        continue
    t = json.loads(line)
    r = t.get("result")
    if r in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif r == "SKIP":
        skipped += 1
    else:   # FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS, INTERRUPT
        failed += 1
        bad.append("%s (%s)" % (t.get("name", "?"), r))
print(passed, failed, skipped)
for b in bad:
    print(b)
PY
}

# run_build LABEL DIR SETUP-OPTION... -- MESON-TEST-OPTION...
# Configures, compiles and tests one build directory and adds its counts.
run_build() {
    local label=$1 dir=$2
    shift 2
    local setup_opts=() test_opts=()
    while [[ $# -gt 0 && $1 != -- ]]; do setup_opts+=("$1"); shift; done
    [[ $# -gt 0 ]] && shift
    test_opts=("$@")
    local t0 p=0 f=0 s=0 rc=0 names=()
    t0=$(date +%s)

    section "$label: configure $dir"
    if ! configure "$dir" "${setup_opts[@]}"; then
        failed+=("$dir: meson setup failed")
        total_fail=$((total_fail + 1))
        summary+=("$(printf '%-10s %-44s setup FAILED' "$dir" "$label")")
        return
    fi

    section "$label: compile $dir"
    local clog=$dir/compile.log
    if ! meson compile -C "$dir" 2>&1 | tee "$clog"; then
        failed+=("$dir: compile failed")
        total_fail=$((total_fail + 1))
        summary+=("$(printf '%-10s %-44s compile FAILED' "$dir" "$label")")
        return
    fi
    # Builds with default options (werror off) must still be warning-free.
    if [[ ${NO_WARNINGS:-0} -eq 1 ]] && grep -q 'warning:' "$clog"; then
        failed+=("$dir: compiler warnings (see $clog)")
        total_fail=$((total_fail + 1))
        summary+=("$(printf '%-10s %-44s compile WARNINGS' "$dir" "$label")")
        return
    fi

    section "$label: meson test ${test_opts[*]}"
    rm -f "$dir/meson-logs/testlog.json"
    meson test -C "$dir" --no-rebuild --print-errorlogs "${test_opts[@]}" || rc=$?

    {
        read -r p f s
        mapfile -t names
    } < <(count_results "$dir/meson-logs/testlog.json")
    for n in "${names[@]}"; do failed+=("$dir: $n"); done
    if [[ $rc -ne 0 && $f -eq 0 ]]; then
        # meson test itself failed (not a test): count it.
        failed+=("$dir: meson test exited $rc")
        f=1
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    total_skip=$((total_skip + s))
    summary+=("$(printf '%-10s %-44s passed %3d  failed %3d  skipped %3d  %4ds' \
        "$dir" "$label" "$p" "$f" "$s" $(( $(date +%s) - t0 )))")
}

finish() {
    section "summary"
    local line
    for line in "${summary[@]}"; do echo "$line"; done
    if [[ ${#failed[@]} -gt 0 ]]; then
        echo "failed:"
        for line in "${failed[@]}"; do echo "  $line"; done
    fi
    echo "total time: $(( $(date +%s) - started ))s"
    # The closing line: nothing may be printed after it.
    if [[ $total_skip -gt 0 ]]; then
        echo "$total_pass passed, $total_fail failed, $total_skip skipped"
    else
        echo "$total_pass passed, $total_fail failed"
    fi
    [[ $total_fail -eq 0 ]]
    exit $?
}

section "dependencies"
if ! tools/install-deps.sh; then
    failed+=("tools/install-deps.sh failed")
    total_fail=$((total_fail + 1))
    finish
fi

# --- 1. Normal build: every suite. ------------------------------------------
run_build "gcc, all suites" build/test "${common_opts[@]}" -- \
    --timeout-multiplier 1

# --- 1b. Release builds with default options, gcc and clang. ---------------
# What a packager runs: `meson setup --buildtype=release` and nothing else
# (werror is off by default). Any compiler warning fails the step.
NO_WARNINGS=1 run_build "gcc, release, default options, unit" build/release-gcc \
    --buildtype=release -- --suite unit
NO_WARNINGS=1 CC=clang CXX=clang++ run_build "clang, release, default options, unit" build/release-clang \
    --buildtype=release -- --suite unit

# --- 2. ASan + UBSan: every suite but abi/install; leaks fail the run. ------
if [[ $run_asan -eq 1 ]]; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    run_build "gcc, ASan+UBSan, no abi/install" build/asan "${common_opts[@]}" \
        -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false -- \
        --no-suite abi --no-suite install --timeout-multiplier 3
    unset ASAN_OPTIONS UBSAN_OPTIONS
fi

# --- 3. ThreadSanitizer: unit and integration suites; any race fails. ------
# (Paho itself is not instrumented: races inside it are not seen.)
if [[ $run_asan -eq 1 ]]; then
    export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
    run_build "gcc, ThreadSanitizer, unit+integration" build/tsan "${common_opts[@]}" \
        -Db_sanitize=thread -Db_lundef=false -Dbench=false -- \
        --suite unit --suite integration --timeout-multiplier 3
    unset TSAN_OPTIONS
fi

# --- 4. Short fuzz run (clang, libFuzzer). ---------------------------------
# Runs when tests/fuzz/meson.build exists and meson_options.txt has `fuzz`.
# Contract with tests/fuzz/meson.build: with -Dfuzz=true and clang it builds
# the libFuzzer targets and registers each short, bounded run over its seed
# corpus as a meson test in suite `fuzz`; only that suite runs here. Keep
# the whole fuzz step under ~3 minutes on 2 cores.
if [[ -f tests/fuzz/meson.build ]] && grep -q "option('fuzz'" meson_options.txt; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    # Only the library and the fuzz targets: the other suites ran above.
    CC=clang CXX=clang++ run_build "clang, libFuzzer, suite fuzz" build/fuzz \
        -Dwarning_level=2 -Dwerror=true -Dbuildtype=debugoptimized \
        -Dtests=false -Dfuzz=true -Db_sanitize=address,undefined \
        -Db_lundef=false -Dexamples=false -Dbench=false -- \
        --suite fuzz --timeout-multiplier 1
    unset ASAN_OPTIONS UBSAN_OPTIONS
fi
# --- end of fuzz hook --------------------------------------------------------

finish
