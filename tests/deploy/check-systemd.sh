#!/bin/sh
# deploy/systemd/aioe-bridge@.service passes `systemd-analyze verify` with
# no message at all (unknown keys are only warnings there, so any output
# fails the test). ExecStart= must name an executable file, so the unit is
# checked with the built aioe-bridge in place of /usr/bin/aioe-bridge.
# Usage: check-systemd.sh UNIT AIOE_BRIDGE
set -eu
unit=$1
bridge=$2
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "systemd-analyze not installed: skipped"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|/usr/bin/aioe-bridge|$bridge|g" "$unit" > "$tmp/aioe-bridge@check.service"
grep -q "ExecStart=$bridge " "$tmp/aioe-bridge@check.service"
rc=0
(cd "$tmp" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no ./aioe-bridge@check.service) \
    > "$tmp/out" 2>&1 || rc=$?
cat "$tmp/out"
if [ "$rc" -ne 0 ] || [ -s "$tmp/out" ]; then
    echo "FAIL: systemd-analyze verify (exit $rc) reported the above"
    exit 1
fi
for key in DynamicUser=yes 'StateDirectory=aioe-bridge/%i' ProtectSystem=strict \
           NoNewPrivileges=yes 'RestartPreventExitStatus=1 2' KillSignal=SIGTERM \
           Type=notify NotifyAccess=main WatchdogSec=30 'ExecReload=/bin/kill -HUP $MAINPID'; do
    grep -qx "$key" "$unit" || { echo "FAIL: $unit lacks $key"; exit 1; }
done
echo "ok: $unit"
