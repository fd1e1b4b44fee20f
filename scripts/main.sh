#!/usr/bin/env bash
# The main job: install, then run the most complete end-to-end job mpam can do today:
# build the ACPI MPAM table and PPTT firmware would publish for the default platform (rdn2),
# decode them as a firmware engineer reads them, then power on the hardware and list what
# its registers report. Options (e.g. -p two-socket) choose another platform.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
tables="$(mktemp -d)"
trap 'rm -rf "$tables"' EXIT
.venv/bin/mpam acpi build "$@" -o "$tables"
.venv/bin/mpam acpi decode "$tables/MPAM.aml"
.venv/bin/mpam acpi decode "$tables/PPTT.aml"
.venv/bin/mpam inventory "$@"
