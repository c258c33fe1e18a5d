#!/usr/bin/env bash
# Build the Debian bookworm base image without a registry: debootstrap a minimal rootfs, `docker import` it.
# Skips when the image exists; --force rebuilds.
#   RPA_DEBIAN_MIRROR  mirror for debootstrap (default: the one this machine's apt uses, else deb.debian.org)
set -euo pipefail

image="rpa-platform/base:bookworm"
suite="bookworm"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rootfs="$repo_root/.build/base-rootfs"

force=0
case "${1:-}" in
  --force) force=1 ;;
  "") ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

docker info >/dev/null 2>&1 || { echo "no Docker engine answers: run .ci/docker-engine.sh" >&2; exit 1; }
if [[ "$force" == 0 ]] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "base image $image exists; skipping (--force rebuilds)"
  exit 0
fi

if ! command -v debootstrap >/dev/null; then
  [[ "$(id -u)" == 0 ]] || { echo "debootstrap missing: run 'sudo apt-get install -y debootstrap'" >&2; exit 1; }
  bash "$repo_root/tools/apt-install.sh" debootstrap
fi

# Reuse the mirror apt uses here: it is the one this machine can reach. Take the first Debian
# archive (not -security) from apt's sources, in either the one-line or the deb822 format.
apt_mirror() {
  local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
  local f
  for f in "${files[@]}"; do
    [[ -r "$f" ]] || continue
    grep -hoE '^(deb[[:space:]]+(\[[^]]*\][[:space:]]+)?|URIs:[[:space:]]+)[a-z]+://[^[:space:]]+' "$f" \
      | grep -oE '[a-z]+://[^[:space:]]+' | grep -E '/debian/?$' | head -n 1
  done | head -n 1
}
mirror="${RPA_DEBIAN_MIRROR:-$(apt_mirror || true)}"
mirror="${mirror:-http://deb.debian.org/debian}"

# debootstrap mounts proc and sys (in a container it binds the host's /dev) inside the target; a failed run
# can leave them mounted, and rm -rf must never descend into them.
cleanup() {
  awk -v root="$rootfs/" 'index($2, root) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l
  rm -rf --one-file-system "$rootfs"
}
trap cleanup EXIT
cleanup
mkdir -p "$rootfs"

echo "debootstrap $suite from $mirror into $rootfs"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  "$suite" "$rootfs" "$mirror" >"$repo_root/.build/debootstrap.log" 2>&1 \
  || { tail -n 30 "$repo_root/.build/debootstrap.log" >&2; exit 1; }

# Caches and docs are dead weight in every layer built on top.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*

tar --numeric-owner -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' \
  --message "debootstrap --variant=minbase $suite from $mirror" \
  - "$image" >/dev/null
echo "built $image ($(docker image inspect --format '{{.Size}}' "$image" | numfmt --to=iec))"
