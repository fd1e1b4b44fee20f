#!/usr/bin/env bash
# Create (idempotently) the separate virtual environment for the LLC benchmark's peer,
# pycachesim's C backend, at benchmarks/.peer-venv.
#
# pycachesim is AGPL-licensed: it lives ONLY in this venv. It is never a dependency of the
# mpam package, never installed into .venv, and never imported by the package or its tests;
# benchmarks/peer_pycachesim.py runs with this venv's python as a separate process.
#
# Needs (Debian): python3, python3-venv, python3-dev and gcc (pycachesim ships as an sdist
# and compiles a C extension). Missing system packages are installed.
#
# Run: bash benchmarks/peer_env.sh
set -euo pipefail
cd "$(dirname "$0")"

PYCACHESIM_VERSION=0.3.1   # latest on PyPI
NUMPY_VERSION=2.4.6        # same pin as the main project

. ../scripts/debian_packages.sh
ensure_debian_packages python3 python3-venv python3-dev gcc

python=${PYTHON:-python3}
venv=.peer-venv
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"

want() {  # true when the venv already has exactly these versions
    "$venv/bin/python" - "$PYCACHESIM_VERSION" "$NUMPY_VERSION" <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, version
try:
    ok = version("pycachesim") == sys.argv[1] and version("numpy") == sys.argv[2]
except PackageNotFoundError:
    ok = False
sys.exit(0 if ok else 1)
EOF
}

if ! want; then
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q "numpy==$NUMPY_VERSION" "pycachesim==$PYCACHESIM_VERSION"
fi
# The C backend must import, or the benchmark would silently measure nothing useful.
"$venv/bin/python" -c 'import cachesim.backend; from importlib.metadata import version; print("peer venv ready: pycachesim", version("pycachesim"), "numpy", version("numpy"))'
