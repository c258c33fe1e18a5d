#!/usr/bin/env bash
# `make docker-plugin`: install pulumi-docker's provider plugin (pulumi-resource-docker) for the project's CLI at
# exactly the version of the installed pulumi_docker SDK, which the engine asks for. In order, like
# `make pulumi-cli`:
#   1. it is installed already;
#   2. Pulumi's own download, where the network reaches it;
#   3. a build from Go modules (tools/pulumi-docker), where `go` exists;
#   4. else say what to do.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
pulumi="${root}/.build/bin/pulumi"
say() { echo "docker-plugin: $*" >&2; }

version="$("${root}/.venv/bin/python" -c 'import importlib.metadata as m; print(m.version("pulumi-docker"))')"
built="$(sed -n 's/^var version = "\(.*\)"$/\1/p' "${root}/tools/pulumi-docker/main.go")"
if [[ "${version}" != "${built}" ]]; then
  say "the installed pulumi_docker SDK is ${version}, but tools/pulumi-docker builds ${built}: pin the same"
  say "version in pyproject.toml and tools/pulumi-docker/main.go, then run 'make setup' again."
  exit 1
fi

installed() {
  "${pulumi}" plugin ls --json | "${root}/.venv/bin/python" -c '
import json, sys
plugins = json.load(sys.stdin) or []
sys.exit(0 if any(p["name"] == "docker" and p["kind"] == "resource" and p["version"] == sys.argv[1]
                  for p in plugins) else 1)' "${version}"
}

# A plugin this script built is stamped with its sources' digest: one built from older sources is rebuilt.
stamp="${HOME}/.pulumi/plugins/resource-docker-v${version}/rpa-platform-sources"
sources="$(cd "${root}/tools/pulumi-docker" && cat go.mod go.sum main.go | sha256sum | cut -d' ' -f1)"
if installed && { [[ ! -f "${stamp}" ]] || [[ "$(cat "${stamp}")" == "${sources}" ]]; }; then
  say "pulumi-resource-docker ${version} is installed"
  exit 0
fi
if ! installed && getent hosts api.github.com >/dev/null 2>&1 &&
  "${pulumi}" plugin install resource docker "${version}"; then
  exit 0
fi
if command -v go >/dev/null; then
  say "building pulumi-resource-docker ${version} from Go modules (first build: about 7 minutes on 2 cores)"
  binary="${root}/.build/plugins/pulumi-resource-docker"
  started=${SECONDS}
  bash "${root}/tools/pulumi-docker/build.sh" "${binary}"
  say "built in $((SECONDS - started)) s"
  "${pulumi}" plugin install resource docker "${version}" --file "${binary}" --reinstall
  echo "${sources}" >"${stamp}"
  installed && exit 0
fi
say "pulumi-resource-docker ${version} is not installed: Pulumi's download is unreachable and there is no Go"
say "toolchain to build it. Install Go >= 1.26 (https://go.dev/doc/install) and run 'make docker-plugin', or"
say "install a binary built elsewhere: ${pulumi} plugin install resource docker ${version} --file <binary>"
exit 1
