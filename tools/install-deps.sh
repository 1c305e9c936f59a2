#!/usr/bin/env bash
# Installs every Debian package that building, testing and demonstrating
# libaioendpoint needs, on a fresh Debian 12 (bookworm) machine.
#
# Idempotent: when every package is already installed it returns at once
# without touching apt. Uses sudo only when not run as root.
#
# To add a package: append it to DEBIAN_PACKAGES below (one per line, with
# a short comment saying who needs it) and nowhere else.
set -euo pipefail

# ---------------------------------------------------------------------------
# DEBIAN_PACKAGES: the single list of what the project needs.
# ---------------------------------------------------------------------------
DEBIAN_PACKAGES=(
    # toolchain and build system
    build-essential        # gcc 12, make, libc6-dev (ASan/UBSan runtimes come with gcc)
    clang                  # fuzz build (libFuzzer), second compiler
    libclang-rt-14-dev     # clang's sanitizer and libFuzzer runtimes
    llvm                   # llvm-symbolizer: readable stacks in fuzz/sanitizer reports
    meson
    ninja-build
    pkg-config             # consumers and tests/install/check-pkgconfig.sh
    git
    ca-certificates
    binutils               # nm, objdump, readelf (tests/abi/check-exports.sh)
    file
    python3                # parsing meson's testlog.json in tools/test.sh
    groff-base             # groff: tests/docs/check-man.sh renders the man pages
    man-db                 # man --warnings -l: the same man page check as lintian
    abigail-tools          # abidw, abidiff (tests/abi/check-abidiff.sh)
    # Debian packaging (tools/debian-packages.sh, docs/packaging.md)
    dpkg-dev
    debhelper
    lintian
    # library dependencies
    libyaml-dev
    libssl-dev
    openssl
    libpaho-mqtt-dev       # Eclipse Paho MQTT C (libpaho-mqtt3as), no .pc file
    uuid-dev
    libjson-c-dev          # JSON output, spec JSON, fallback reader of the transformation stage
    libcjson-dev           # the transformation stage's JSON reader (docs/transform.md)
    libcurl4-openssl-dev
    libmicrohttpd-dev      # aioe-bridge --metrics-addr (docs/operations.md)
    libsystemd-dev         # aioe-bridge sd_notify: readiness, watchdog (optional, -Dsystemd)
    # tests
    libcmocka-dev          # unit tests
    python3-yaml           # tests/deploy/check-kubernetes.py
    mosquitto              # integration tests and the bridge demo
    mosquitto-clients
    mosquitto-dev
    libmosquitto-dev       # integration-test observer; bench-bridge-load, bench-mosq-floor (the library never links it)
)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
    if [[ "$status" != ii* ]]; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all ${#DEBIAN_PACKAGES[@]} packages present"
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "install-deps: not root and sudo is not installed; run this script as root" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
# Recommends stay on, as on a normal Debian install.
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
