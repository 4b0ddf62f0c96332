#!/usr/bin/env bash
# Set up the runtime (no torch) and start the daemon on the bundled library and models.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh runtime
.venv/bin/midibridge doctor
exec .venv/bin/midibridge analyze bridge/assets/examples/chorale.mid "$@"
