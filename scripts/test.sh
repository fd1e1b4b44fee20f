#!/usr/bin/env bash
# The whole test suite: install, lint, type-check, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
./scripts/install_clients.sh
# The client tests (docs/clients.md) run the real clients: here a missing one is a failure.
export MPAM_REQUIRE_CLIENTS=1
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/mypy
.venv/bin/pytest "$@"
# The Numba kernels once more as the plain Python they are written in (docs/design.md §4).
NUMBA_DISABLE_JIT=1 .venv/bin/pytest -q tests/hw/test_cache.py tests/hw/test_memory.py
