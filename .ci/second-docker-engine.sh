#!/usr/bin/env bash
# A second Docker engine on this machine, so that tests can run workers on two Docker hosts for real.
# Idempotent: does nothing when its socket already answers; otherwise starts dockerd (root only) with a
# socket, data root, exec root (where its managed containerd keeps its socket), pid file and config of its
# own, so that it shares nothing with the first engine (.ci/docker-engine.sh) but the image files it loads.
# Host networking only, like the first: no bridge, no iptables.
#   .ci/second-docker-engine.sh          start it unless it answers
#   .ci/second-docker-engine.sh stop     stop it (SIGTERM, then SIGKILL after RPA_DOCKER_WAIT seconds)
#   RPA_DOCKER2_NAME   names its socket, roots, pid file and log (default rpa-docker-2)
#   RPA_DOCKER2_LOG    where it logs (default /tmp/<name>.log)
#   RPA_DOCKER_WAIT    seconds to wait for it to answer or to stop (default 60)
set -euo pipefail

name="${RPA_DOCKER2_NAME:-rpa-docker-2}"
socket="/var/run/$name.sock"
host="unix://$socket"
exec_root="/var/run/$name"
data_root="/var/lib/$name"
pid_file="/var/run/$name.pid"
config_file="$data_root.json"
log_file="${RPA_DOCKER2_LOG:-/tmp/$name.log}"
wait_seconds="${RPA_DOCKER_WAIT:-60}"

say() { echo "second-docker-engine: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }
engine_answers() { docker --host "$host" info >/dev/null 2>&1; }
# A killed dockerd whose parent never reaps it stays a zombie, which `kill -0` still finds: look at its state.
dockerd_alive() {  # dockerd_alive PID
  [[ "$(ps -o comm= -p "$1" 2>/dev/null)" == dockerd && "$(ps -o stat= -p "$1")" != Z* ]]
}
recorded_pid() { if [[ -f "$pid_file" ]]; then cat "$pid_file"; fi; }
containerd_pid_file="$exec_root/containerd/containerd.pid"
containerd_alive() {  # containerd_alive PID
  [[ "$(ps -o comm= -p "$1" 2>/dev/null)" == containerd && "$(ps -o stat= -p "$1")" != Z* ]]
}

stop_engine() {
  local pid
  pid="$(recorded_pid)"
  if [[ -z "$pid" ]] || ! dockerd_alive "$pid"; then
    say "not running"
    rm -f "$pid_file"
    return 0
  fi
  say "stopping dockerd (pid $pid)"
  kill -TERM "$pid"
  for ((i = 0; i < wait_seconds; i++)); do
    dockerd_alive "$pid" || { say "stopped after ${i}s"; return 0; }
    sleep 1
  done
  say "dockerd (pid $pid) still running after ${wait_seconds}s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  # Its containerd would outlive it: it is the one process recorded under this engine's exec root.
  if [[ -f "$containerd_pid_file" ]] && containerd_alive "$(cat "$containerd_pid_file")"; then
    kill -KILL "$(cat "$containerd_pid_file")" 2>/dev/null || true
  fi
  rm -f "$pid_file"
}

case "${1:-start}" in
  stop) stop_engine; exit 0 ;;
  start) ;;
  *) die "usage: $0 [start|stop]" ;;
esac

if command -v docker >/dev/null && engine_answers; then
  say "engine at $host already answers ($(docker --host "$host" version --format '{{.Server.Version}}'))"
  exit 0
fi
if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
  die "dockerd is not installed: run .ci/docker-engine.sh first (it installs docker.io)"
fi
[[ "$(id -u)" == 0 ]] || die "no engine answers at $host and starting dockerd needs root"

# A dockerd killed without cleanup leaves its pid file behind and the next one refuses to start.
pid="$(recorded_pid)"
if [[ -n "$pid" ]] && ! dockerd_alive "$pid"; then
  say "removing stale $pid_file"
  rm -f "$pid_file"
  pid=""
fi

# Likewise its containerd's: dockerd would wait for a dead (or zombie) containerd to answer, then give up.
if [[ -z "$pid" && -f "$containerd_pid_file" ]] && ! containerd_alive "$(cat "$containerd_pid_file")"; then
  say "removing stale $containerd_pid_file"
  rm -f "$containerd_pid_file"
fi

if [[ -n "$pid" ]]; then
  say "dockerd (pid $pid) is running but not answering yet; waiting"
else
  say "starting dockerd at $host (data root $data_root, exec root $exec_root, log: $log_file)"
  mkdir -p "$data_root" "$exec_root"
  # Its own (empty) config file: a daemon.json written for the first engine (hosts, data-root ...) must not
  # apply here.
  [[ -f "$config_file" ]] || echo '{}' >"$config_file"
  # No bridge, no iptables, as the first engine: host networking only. host-gateway is 127.0.0.1 (on a host
  # network the host is itself), as prefect-docker asks for it when the API is local. Containers go under a
  # cgroup parent of their own, so each engine's containers are told apart on the host too.
  setsid nohup dockerd \
    --host "$host" \
    --data-root "$data_root" \
    --exec-root "$exec_root" \
    --pidfile "$pid_file" \
    --config-file "$config_file" \
    --cgroup-parent "$name" \
    --bridge=none --iptables=false --ip-masq=false --host-gateway-ip=127.0.0.1 \
    >>"$log_file" 2>&1 </dev/null &
  pid=$!
fi

for ((i = 0; i < wait_seconds; i++)); do
  if engine_answers; then
    say "engine at $host ready after ${i}s ($(docker --host "$host" version --format '{{.Server.Version}}'))"
    exit 0
  fi
  dockerd_alive "$pid" || break
  sleep 1
done
say "last lines of $log_file:"
tail -n 30 "$log_file" >&2 || true
dockerd_alive "$pid" || die "dockerd exited; see $log_file"
die "the engine at $host did not answer 'docker info' within ${wait_seconds}s"
