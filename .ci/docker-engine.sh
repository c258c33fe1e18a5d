#!/usr/bin/env bash
# Make sure a Docker engine answers. Idempotent: does nothing when one already does (a developer's engine),
# otherwise installs docker.io if dockerd is missing (root only) and starts dockerd in the background.
#   RPA_DOCKERD_LOG   where dockerd logs (default /tmp/rpa-dockerd.log)
#   RPA_DOCKER_WAIT   seconds to wait for `docker info` (default 60)
set -euo pipefail

log_file="${RPA_DOCKERD_LOG:-/tmp/rpa-dockerd.log}"
wait_seconds="${RPA_DOCKER_WAIT:-60}"

say() { echo "docker-engine: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }
engine_answers() { docker info >/dev/null 2>&1; }

install_docker() {
  [[ "$(id -u)" == 0 ]] || die "dockerd is not installed and this is not root: run 'sudo apt-get install -y docker.io'"
  say "installing docker.io (apt)"
  # The package's init script would start dockerd with its default bridge network, which this machine must
  # not have: forbid service starts during the install (Debian's policy-rc.d) unless a policy exists.
  local policy=/usr/sbin/policy-rc.d added=0 status=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added=1
  fi
  bash "$(dirname "${BASH_SOURCE[0]}")/../tools/apt-install.sh" docker.io || status=$?
  [[ "$added" == 0 ]] || rm -f "$policy"
  [[ "$status" == 0 ]] || die "apt-get install docker.io failed ($status)"
}

if command -v docker >/dev/null && engine_answers; then
  say "engine already answers ($(docker version --format '{{.Server.Version}}'))"
  exit 0
fi

if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
  install_docker
fi

# Only start our own engine for the default local socket; a remote DOCKER_HOST is someone else's to run.
if [[ -n "${DOCKER_HOST:-}" && "${DOCKER_HOST}" != "unix:///var/run/docker.sock" ]]; then
  die "DOCKER_HOST=${DOCKER_HOST} does not answer; not starting a local engine for it"
fi
[[ "$(id -u)" == 0 ]] || die "no engine answers and starting dockerd needs root"

# A dockerd killed without cleanup leaves its pid file behind and the next one refuses to start. A killed
# dockerd whose parent never reaps it stays a zombie, which `kill -0` still finds: look at its state.
pid_file=/var/run/docker.pid
dockerd_alive() {  # dockerd_alive PID
  [[ "$(ps -o comm= -p "$1" 2>/dev/null)" == dockerd && "$(ps -o stat= -p "$1")" != Z* ]]
}
if [[ -f "$pid_file" ]] && ! dockerd_alive "$(cat "$pid_file")"; then
  say "removing stale $pid_file"
  rm -f "$pid_file"
fi

if [[ -f "$pid_file" ]]; then
  dockerd_pid="$(cat "$pid_file")"
  say "dockerd (pid $dockerd_pid) is running but not answering yet; waiting"
else
  say "starting dockerd (log: $log_file)"
  # No bridge, no iptables: this machine allows host networking only (every container uses --network host).
  # With no bridge, "host-gateway" (which prefect-docker maps host.docker.internal to when the API URL is
  # local) has no address; on a host network the host is 127.0.0.1.
  setsid nohup dockerd --bridge=none --iptables=false --ip-masq=false --host-gateway-ip=127.0.0.1 \
    >>"$log_file" 2>&1 </dev/null &
  dockerd_pid=$!
fi

for ((i = 0; i < wait_seconds; i++)); do
  if engine_answers; then
    say "engine ready after ${i}s ($(docker version --format '{{.Server.Version}}'))"
    exit 0
  fi
  dockerd_alive "$dockerd_pid" || break
  sleep 1
done
say "last lines of $log_file:"
tail -n 30 "$log_file" >&2 || true
dockerd_alive "$dockerd_pid" || die "dockerd exited; see $log_file"
die "Docker engine did not answer 'docker info' within ${wait_seconds}s"
