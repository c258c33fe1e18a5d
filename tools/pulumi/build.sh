#!/usr/bin/env bash
# Build the pinned Pulumi CLI and this project's Python language host from Go modules (versions: go.mod), as
# distributions package Pulumi, into BIN_DIR (default: the repository's .build/bin), with the SDK's helper
# scripts beside them. Nothing is downloaded but Go modules; the Go build cache makes a second build quick.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
bin_dir="$(mkdir -p "${1:-../../.build/bin}" && cd "${1:-../../.build/bin}" && pwd)"

go mod download github.com/pulumi/pulumi/pkg/v3 github.com/pulumi/pulumi/sdk/v3
version="$(go list -m -f '{{.Version}}' github.com/pulumi/pulumi/pkg/v3)"
sdk_dir="$(go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)"

rm -f "${bin_dir}/pulumi"  # It may be a link to another installation, which must not be overwritten.
# The release's own build flags: the version stamped in, the pure-Go user lookup, gRPC without x/net/trace.
go build -trimpath -tags osusergo,grpcnotrace \
  -ldflags "-w -s -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${version}" \
  -o "${bin_dir}/" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi ./cmd/pulumi-language-python

# The program launcher and the dynamic-provider launcher the release ships (pulumi-analyzer-policy-python is
# gone from the SDK: policy packs now run through the language host).
install -m 0755 "${sdk_dir}/python/cmd/pulumi-language-python-exec" \
  "${sdk_dir}/python/dist/pulumi-resource-pulumi-python" "${bin_dir}/"
echo "built Pulumi ${version} into ${bin_dir}"
