#!/usr/bin/env bash
# Set up the runtime (no torch) and start the daemon on the bundled library and models
# (OSC on 127.0.0.1:9000, MIDI ports "midibridge in"/"midibridge out"; see docs/protocol.md).
# Arguments go to `midibridge serve`; the port may also come from $MIDIBRIDGE_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh runtime
# doctor checks the port the daemon is about to serve, not the default one.
port="${MIDIBRIDGE_PORT:-9000}"
host="127.0.0.1"
prev=""
for arg in "$@"; do
  case "$prev" in --port) port="$arg" ;; --host) host="$arg" ;; esac
  case "$arg" in --port=*) port="${arg#--port=}" ;; --host=*) host="${arg#--host=}" ;; esac
  prev="$arg"
done
.venv/bin/midibridge doctor --osc-port "$port" --host "$host" || true
exec .venv/bin/midibridge serve "$@"
