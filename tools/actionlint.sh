#!/usr/bin/env bash
# `make lint`: actionlint on .github/workflows (its config: .github/actionlint.yaml), at the version pinned
# here, built from Go modules into .build/bin (the Go toolchain verifies the module checksums; the first build
# takes about 20 s on 2 cores, later runs none). Where shellcheck is on PATH, actionlint also checks the `run:`
# scripts with it. Without Go it says so and checks nothing, as `make lint`'s other Go checks do.
set -euo pipefail
version="v1.7.12"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${root}/.build/bin"
say() { echo "actionlint: $*" >&2; }

if [[ "$("${bin}/actionlint" -version 2>/dev/null | head -n 1)" != "${version}" ]]; then
  if ! command -v go >/dev/null; then
    say "skipped: no Go toolchain to build actionlint ${version} from Go modules (Go >= 1.25 needed)"
    exit 0
  fi
  say "building actionlint ${version} from Go modules into ${bin}"
  GOBIN="${bin}" go install "github.com/rhysd/actionlint/cmd/actionlint@${version}"
fi
cd "${root}"
exec "${bin}/actionlint" "$@"
