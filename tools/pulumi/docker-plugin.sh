#!/usr/bin/env bash
# Is pulumi-docker's provider plugin (pulumi-resource-docker), at the version the installed pulumi_docker SDK
# expects, installed for the project's CLI? Installs it where the network reaches Pulumi's plugin downloads;
# exit 1 with the reason when it cannot be had (then stacks with workers cannot be applied: see FACTS.md).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
pulumi="${root}/.build/bin/pulumi"
version="$("${root}/.venv/bin/python" -c 'import importlib.metadata as m; print(m.version("pulumi-docker"))')"
say() { echo "docker-plugin: $*" >&2; }

if "${pulumi}" plugin ls --json | "${root}/.venv/bin/python" -c '
import json, sys
plugins = json.load(sys.stdin) or []
sys.exit(0 if any(p["name"] == "docker" and p["kind"] == "resource" and p["version"] == sys.argv[1]
                  for p in plugins) else 1)' "${version}"; then
  say "pulumi-resource-docker ${version} is installed"
  exit 0
fi
if getent hosts api.github.com >/dev/null 2>&1; then
  "${pulumi}" plugin install resource docker "${version}" && exit 0
fi
say "pulumi-resource-docker ${version} is not installed and cannot be had here: Pulumi's plugin downloads are"
say "unreachable, and its Go module (github.com/pulumi/pulumi-docker/provider) is not served by the Go module"
say "proxy, so it cannot be built either (tools/pulumi/FACTS.md). A binary built elsewhere installs with:"
say "  ${pulumi} plugin install resource docker ${version} --file <path to pulumi-resource-docker>"
exit 1
