#!/usr/bin/env bash
# The main job: install, then run the most complete end-to-end job mpam can do today:
# power on the default platform (rdn2) and list what its hardware reports.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
.venv/bin/mpam inventory "$@"
