#!/usr/bin/env bash
# Build the runtime image offline: engine -> base image (if missing) -> wheelhouse -> docker build.
# Tags rpa-platform/runtime:<project version> and rpa-platform/runtime:latest.
#   BASE_IMAGE  build on this image instead of the debootstrapped rpa-platform/base:bookworm
#               (e.g. prefecthq/prefect:3.9.1-python3.11 where a registry is reachable)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
image="rpa-platform/runtime"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n 1)"
[[ -n "$version" ]] || { echo "build-images: no version in pyproject.toml" >&2; exit 1; }

timings=()
step() {  # step NAME COMMAND...: run and record how long it took
  local name="$1" start=$SECONDS
  shift
  echo "==> $name"
  "$@"
  timings+=("$(printf '%-12s %4ss' "$name" $((SECONDS - start)))")
}

step engine bash .ci/docker-engine.sh
if [[ -z "${BASE_IMAGE:-}" ]]; then
  BASE_IMAGE="rpa-platform/base:bookworm"
  step base bash docker/build-base-image.sh
fi
step wheelhouse bash docker/build-wheelhouse.sh

build() {
  bash docker/legacy-build.sh --quiet \
    --file docker/Dockerfile \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --build-arg "RPA_VERSION=$version" \
    --tag "$image:$version" --tag "$image:latest" \
    .build/wheelhouse
}
step image build
# A self-hosted server's database (a stack's `server:`), built here for want of a registry; elsewhere the stack
# names the public postgres:15.
if [[ "$BASE_IMAGE" == rpa-platform/base:bookworm ]]; then
  step postgres env BASE_IMAGE="$BASE_IMAGE" bash docker/build-postgres-image.sh
fi

# Old builds' layers are unreachable once :latest moves; drop the dangling ones.
docker image prune --force --filter "label=org.opencontainers.image.title=rpa-platform runtime" >/dev/null

echo "==> timings"
printf '  %s\n' "${timings[@]}"
echo "==> images"
for name in "$image:$version" "$image:latest" "$BASE_IMAGE" rpa-platform/postgres:15; do
  docker image inspect "$name" >/dev/null 2>&1 || continue
  printf '  %-40s %s\n' "$name" "$(docker image inspect --format '{{.Size}}' "$name" | numfmt --to=si --suffix=B)"
done
