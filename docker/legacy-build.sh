#!/usr/bin/env bash
# `docker build` with the legacy builder: `bash docker/legacy-build.sh [docker build options] CONTEXT`.
# BuildKit needs the buildx plugin, which is usually absent here; the legacy builder is always there and the
# Dockerfiles are written for it. Docker's notice that this builder is deprecated is left out of the output
# (nothing here can act on it); everything else docker prints passes through, and its exit status is kept.
set -euo pipefail
notice=(-e '^DEPRECATED: The legacy builder' -e '^ *BuildKit is currently disabled' -e '^ *environment-variable\.$')
# stdout goes straight through (fd 3); only stderr is filtered.
{ DOCKER_BUILDKIT=0 docker build "$@" 2>&1 >&3 3>&- | { grep -v "${notice[@]}" -e '^$' || true; } >&2 3>&-; } 3>&1
