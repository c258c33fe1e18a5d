#!/usr/bin/env bash
# `make pulumi-cli`: make .build/bin/pulumi the pinned Pulumi CLI (tools/pulumi/go.mod), with a Python language
# host beside it; every make verb, test and workflow uses that one binary. In order:
#   1. a pulumi of the pinned version already on PATH (linked);
#   2. the official installer, where the network reaches get.pulumi.com;
#   3. a build from Go modules (tools/pulumi/build.sh), where `go` exists;
#   4. else say exactly what to do.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${root}/.build/bin"
version="v$(sed -n 's#^[[:space:]]*github.com/pulumi/pulumi/pkg/v3 v##p' "${root}/tools/pulumi/go.mod")"
say() { echo "pulumi-cli: $*" >&2; }
version_of() { "$1" version 2>/dev/null || true; }

# The project's own language host is rebuilt when its sources are newer than the binary.
host_is_current() {
  [[ ! -e "${bin}/pulumi-language-python" ]] ||
    [[ -z "$(find "${root}/tools/pulumi/cmd" "${root}/tools/pulumi/go.mod" -newer "${bin}/pulumi-language-python")" ]]
}
if [[ -x "${bin}/pulumi" && "$(version_of "${bin}/pulumi")" == "${version}" ]] && host_is_current; then
  say "Pulumi ${version} is ready (${bin}/pulumi)"
  exit 0
fi
mkdir -p "${bin}"

# 1. On PATH (this project's own bin folder left out). The CLI finds its language hosts beside the file the
#    link points to.
elsewhere="$(PATH="$(tr ':' '\n' <<<"${PATH}" | grep -vxF "${bin}" | paste -sd: -)" command -v pulumi || true)"
if [[ -n "${elsewhere}" && "$(version_of "${elsewhere}")" == "${version}" ]]; then
  ln -sfn "$(readlink -f "${elsewhere}")" "${bin}/pulumi"
  say "using Pulumi ${version} from ${elsewhere}"
  exit 0
fi

# 2. The official installer, into the project; only where its host resolves (a closed network refuses it).
if command -v curl >/dev/null && getent hosts get.pulumi.com >/dev/null 2>&1; then
  say "installing Pulumi ${version} with the official installer"
  dist="${root}/.build/pulumi-dist"
  if curl -fsSL https://get.pulumi.com | sh -s -- --version "${version#v}" --install-root "${dist}" --no-edit-path; then
    ln -sfn "${dist}/bin/pulumi" "${bin}/pulumi"
    exit 0
  fi
  say "the installer failed; trying the next way"
fi

# 3. From Go modules.
if command -v go >/dev/null; then
  say "building Pulumi ${version} from Go modules (first build: about 5-8 minutes on 2 cores; then seconds)"
  exec "${root}/tools/pulumi/build.sh" "${bin}"
fi

say "no Pulumi ${version} on PATH, get.pulumi.com unreachable and no Go toolchain: nothing was done."
say "Either install Pulumi ${version} (https://www.pulumi.com/docs/install/: curl -fsSL https://get.pulumi.com"
say "| sh -s -- --version ${version#v}), or install Go >= 1.26 (https://go.dev/doc/install) so that it is"
say "built from source; then run 'make pulumi-cli' again."
exit 1
