#!/usr/bin/env bash
# Build the PostgreSQL image a stack's self-hosted Prefect server uses on this machine (no registry):
# docker/postgres/Dockerfile on the debootstrapped base. Tags rpa-platform/postgres:15.
#   BASE_IMAGE  build on this image instead of rpa-platform/base:bookworm (it needs apt and Debian's
#               postgresql-15 package); where a registry is reachable, use the official postgres:15 instead
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
image="rpa-platform/postgres:15"

bash .ci/docker-engine.sh
if [[ -z "${BASE_IMAGE:-}" ]]; then
  BASE_IMAGE="rpa-platform/base:bookworm"
  bash docker/build-base-image.sh
fi
# --network host: this machine has no bridge network; apt reaches Debian's mirror through the host's.
bash docker/legacy-build.sh --quiet --network host \
  --file docker/postgres/Dockerfile \
  --build-arg "BASE_IMAGE=$BASE_IMAGE" \
  --tag "$image" \
  docker/postgres >/dev/null
docker image prune --force --filter "label=org.opencontainers.image.title=rpa-platform postgres" >/dev/null
printf '  %-40s %s\n' "$image" "$(docker image inspect --format '{{.Size}}' "$image" | numfmt --to=si --suffix=B)"
