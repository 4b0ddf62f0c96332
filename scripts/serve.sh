#!/usr/bin/env bash
# Set up the runtime (no torch) and start the daemon on the bundled library and models
# (OSC on 127.0.0.1:9000, MIDI ports "midibridge in"/"midibridge out"; see docs/protocol.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh runtime
.venv/bin/midibridge doctor
exec .venv/bin/midibridge serve "$@"
