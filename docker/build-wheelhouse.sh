#!/usr/bin/env bash
# Build the wheels the runtime image installs offline (`pip install --no-index`), on the host:
#   .build/wheelhouse/deps/     every dependency (rebuilt only when pyproject.toml or this script changes)
#   .build/wheelhouse/project/  the project's own wheel (rebuilt every run: it is the part that changes)
# The split keeps Docker's layer cache: a code change reinstalls one small wheel, not 150 dependencies.
#   PYTHON  interpreter whose pip builds the wheels (default: the repo's .venv, else python3); must be 3.11
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
wheelhouse="$repo_root/.build/wheelhouse"
default_python="$repo_root/.venv/bin/python"
[[ -x "$default_python" ]] || default_python=python3
python="${PYTHON:-$default_python}"
# The image runs flows and the Docker worker that starts them; the Pulumi program ([infra]) never runs there.
image_extras="flows,worker"

# Compiled wheels must match the image's CPython 3.11 ABI; the host is bookworm x86_64 like the image,
# so manylinux/cp311 wheels and anything built here from an sdist load there.
"$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || { echo "build-wheelhouse: $python is not Python 3.11 (the image's)" >&2; exit 1; }

# This machine's pip config lists local indexes that lack many projects; pip warns once per project.
pip_wheel() {
  "$python" -m pip wheel --quiet --disable-pip-version-check "$@" 2> >(grep -v "is ignored: it is neither" >&2)
}

stamp="$(cat "$repo_root/pyproject.toml" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)"
if [[ -f "$wheelhouse/deps/.stamp-$stamp" ]]; then
  echo "dependency wheels up to date (stamp $stamp)"
else
  echo "building dependency wheels into $wheelhouse/deps"
  rm -rf "$wheelhouse/deps"
  mkdir -p "$wheelhouse/deps"
  # async-timeout: redis wants it only below Python 3.11.3, so a 3.11.7 host leaves it out while the
  # image's 3.11.2 needs it. Naming it keeps the wheelhouse complete for any 3.11 patch release.
  pip_wheel --wheel-dir "$wheelhouse/deps" "$repo_root[$image_extras]" async-timeout
  rm -f "$wheelhouse"/deps/rpa_platform-*.whl
  touch "$wheelhouse/deps/.stamp-$stamp"
fi

rm -rf "$wheelhouse/project"
# A fixed timestamp makes the wheel byte-identical while the code is, so Docker's cache (and the image id)
# holds across builds of an unchanged tree.
SOURCE_DATE_EPOCH=315532800 pip_wheel --no-deps --wheel-dir "$wheelhouse/project" "$repo_root"
# setuptools leaves its build tree in the repo; it would otherwise leak stale modules into later wheels.
rm -rf "$repo_root/build"

# Every wheel must carry a tag this interpreter supports: the host is CPython 3.11 on bookworm x86_64 (glibc
# 2.36) like the image, so its tags are the image's.
"$python" - "$wheelhouse" <<'PY'
import sys
from pathlib import Path

try:
    from packaging.tags import sys_tags
    from packaging.utils import parse_wheel_filename
except ImportError:  # an interpreter without packaging still has pip's copy
    from pip._vendor.packaging.tags import sys_tags
    from pip._vendor.packaging.utils import parse_wheel_filename

supported = set(sys_tags())
bad = [w.name for w in Path(sys.argv[1]).rglob("*.whl") if not parse_wheel_filename(w.name)[3] & supported]
if bad:
    sys.exit("build-wheelhouse: wheels that would not load in the image:\n  " + "\n  ".join(bad))
PY
echo "wheelhouse: $(find "$wheelhouse/deps" -name '*.whl' | wc -l) dependency wheels, project $(basename "$wheelhouse"/project/*.whl)"
