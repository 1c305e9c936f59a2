#!/usr/bin/env bash
# Builds the aioe-bridge container image (deploy/container/Dockerfile) with
# podman from Debian packages only, and checks that it runs.
#
#   tools/container-image.sh [--tag NAME] [--keep]
#
#   --tag NAME  image name (default localhost/aioe-bridge:test)
#   --keep      keep the image and the base images afterwards
#
# The Dockerfile starts FROM debian:12 and debian:12-slim. When no registry
# is reachable (only the Debian archive is, on our build machines), the
# script makes those base images itself: `debootstrap --variant=minbase
# bookworm` from the Debian mirror in /etc/apt, imported into podman as
# localhost/debian:12 and localhost/debian:12-slim (a minbase system stands
# in for the slim image; both come from Debian's own packages). Set
# AIOE_BASE_FROM_REGISTRY=1 to use the registry's images instead.
#
# The build runs with `--isolation chroot` (it needs no cgroups, so it also
# works inside VMs and containers whose cgroup set-up an OCI runtime
# refuses). The checks then run the image's own files as the image's user:
# through `podman run` when the OCI runtime works here, otherwise by
# mounting the image and using chroot(8) with that user. They check that the
# image runs as a non-root user, declares the state directory a volume,
# starts aioe-bridge --version, and that aioe-validate accepts
# examples/endpoints/local-mosquitto.yaml.
#
# Needs root (apt, debootstrap, chroot). Installs podman and debootstrap
# (Debian packages) if missing. Takes about 7 minutes on 2 cores, most of
# it debootstrap and apt inside the build; not part of tools/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tag=localhost/aioe-bridge:test
keep=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --tag) tag=$2; shift ;;
        --keep) keep=1 ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        *) echo "container-image: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
sudo=
[[ $(id -u) -eq 0 ]] || sudo=sudo

need=()
command -v podman >/dev/null || need+=(podman)
command -v debootstrap >/dev/null || need+=(debootstrap)
if ((${#need[@]})); then
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}"
fi

work=$(mktemp -d /tmp/aioe-image.XXXXXX)
mnt=''
bound=''
cleanup() {
    if [[ -n $bound ]]; then $sudo umount "$bound" 2>/dev/null || true; fi
    if [[ -n $mnt ]]; then $sudo podman image unmount "$tag" >/dev/null 2>&1 || true; fi
    if ((!keep)); then
        $sudo podman rmi -f "$tag" >/dev/null 2>&1 || true
    fi
    $sudo rm -rf "$work"
}
trap cleanup EXIT

if [[ ${AIOE_BASE_FROM_REGISTRY:-0} != 1 ]] &&
   ! $sudo podman image exists localhost/debian:12; then
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [[ -n $mirror ]] || mirror=http://deb.debian.org/debian
    echo "container-image: debootstrap bookworm from $mirror (the base images)"
    $sudo debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
        { tail -20 "$work/debootstrap.log" >&2; exit 1; }
    $sudo tar -C "$work/rootfs" -c . | $sudo podman import - localhost/debian:12 >/dev/null
    $sudo podman tag localhost/debian:12 localhost/debian:12-slim
fi

echo "container-image: podman build -f deploy/container/Dockerfile -t $tag"
src="$work/src"
mkdir -p "$src"
(cd "$root" && git ls-files -z | tar -c --null -T -) | tar -x -C "$src"
pull=(--pull=never)
[[ ${AIOE_BASE_FROM_REGISTRY:-0} == 1 ]] && pull=()
$sudo podman build --isolation chroot --network host "${pull[@]}" \
    -f "$src/deploy/container/Dockerfile" -t "$tag" "$src"

fail() { echo "container-image: FAIL: $*" >&2; exit 1; }
user=$($sudo podman image inspect "$tag" --format '{{.Config.User}}')
[[ -n $user && ${user%%:*} != 0 && ${user%%:*} != root ]] || fail "the image runs as '$user', not a non-root user"
volumes=$($sudo podman image inspect "$tag" --format '{{.Config.Volumes}}')
[[ $volumes == *"/var/lib/aioe-bridge"* ]] || fail "/var/lib/aioe-bridge is not a volume ($volumes)"

# run: the image's files as the image's user
if $sudo podman run --rm --network none --ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" \
        "$tag" --version >"$work/version" 2>"$work/run.err"; then
    how="podman run"
    run() { $sudo podman run --rm --network none --ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" \
                -v "$root/examples/endpoints:/mnt:ro" --entrypoint "$1" "$tag" "${@:2}"; }
else
    how="chroot as $user (podman run: $(tail -1 "$work/run.err"))"
    mnt=$($sudo podman image mount "$tag")
    run() { $sudo chroot --userspec="$user" "$mnt" "$@"; }
    run /usr/bin/aioe-bridge --version >"$work/version"
fi
grep -q '^aioe-bridge ' "$work/version" || fail "aioe-bridge --version printed: $(cat "$work/version")"
# the example endpoint, seen at /mnt in the image (a read-only bind mount)
example=local-mosquitto.yaml
if [[ $how != "podman run" ]]; then
    $sudo mount --bind "$root/examples/endpoints" "$mnt/mnt"
    bound="$mnt/mnt"
fi
run /usr/bin/aioe-validate "/mnt/$example" >/dev/null ||
    fail "aioe-validate refused examples/endpoints/$example"
size=$($sudo podman image inspect "$tag" --format '{{.Size}}')
echo "container-image: OK: $tag builds, runs as $user ($how), $(head -1 "$work/version"), $((size / 1048576)) MiB"
