#!/usr/bin/env bash
# Install, from Debian, the real resctrl clients the client tests run unmodified against the
# machine (docs/clients.md): runc with a busybox-static root filesystem, Go with goresctrl's
# source, and intel-cmt-cat's pqos.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/debian_packages.sh
ensure_debian_packages runc busybox-static golang-go golang-github-intel-goresctrl-dev intel-cmt-cat
