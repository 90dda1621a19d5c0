#!/usr/bin/env bash
# Build the local base image the tests use instead of pytorch/pytorch (no
# image registry is reachable here): a minimal Debian bookworm with python3
# and venv, made by debootstrap from the mirror this machine's apt uses and
# imported into the engine. Skipped when the image exists.
#   usage: scripts/docker-base.sh [IMAGE]      (default yolo-lab-base:bookworm)
set -euo pipefail
IMAGE=${1:-yolo-lab-base:bookworm}

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "base image $IMAGE present"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install -y debootstrap" >&2; exit 1; }

# The mirror apt already uses (deb822 sources or a one-line sources.list).
MIRROR=$(grep -h -E '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
  grep -v -- '-security' | sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' |
  awk '{print $1; exit}' || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}

ROOTFS=$(mktemp -d /tmp/yolo-lab-rootfs.XXXXXX)
trap 'rm -rf "$ROOTFS"' EXIT
echo "==> debootstrap bookworm from $MIRROR"
start=$SECONDS
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1 || { tail -n 20 "$ROOTFS.log" >&2; exit 1; }
rm -f "$ROOTFS.log"
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
tar -C "$ROOTFS" -c . | docker import - "$IMAGE" >/dev/null
echo "base image $IMAGE built in $((SECONDS - start)) s ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%d MB", $1/1e6}'))"
