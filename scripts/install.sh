#!/usr/bin/env bash
# Install everything mpam needs on a Debian machine: system packages (only those missing),
# a virtual environment in .venv and the package with its pinned dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/debian_packages.sh
ensure_debian_packages python3 python3-venv python3-dev fuse3 libfuse3-3 git

python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "mpam needs Python 3.11 or newer ($python is $("$python" --version))"; exit 1; }
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
