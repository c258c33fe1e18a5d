#!/usr/bin/env bash
# Install Debian packages, unattended and quiet: `bash tools/apt-install.sh PACKAGE...` (as root).
# Waits for another apt's lock (unattended upgrades, a user's install) rather than failing, and keeps out of
# the output the notices nobody here can act on: debconf deferring its questions (no apt-utils) and
# needrestart's scan of running services. Errors still show, and fail the call.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
wait=(-o DPkg::Lock::Timeout=600)
apt-get "${wait[@]}" update -qq
apt-get "${wait[@]}" install -y -qq "$@" 2>&1 >/dev/null | { grep -v -e '^debconf: ' || true; } >&2
