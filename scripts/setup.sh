#!/usr/bin/env bash
# Idempotent setup on a fresh Debian machine.
#   scripts/setup.sh runtime [VENV]   -> VENV (default .venv) with the runtime only (no torch): enough to serve
#   scripts/setup.sh dev              -> .venv-dev with torch (CPU), training extras and test tools
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-runtime}"

# System packages the daemon and the tests use: JACK (real virtual MIDI ports), liblo's
# oscsend/oscdump, headless Pure Data, FluidSynth for previews, MMA for corpus grooves.
APT_PACKAGES="jackd2 liblo-tools puredata-core fluidsynth timgm6mb-soundfont mma"
missing=""
for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi

case "$kind" in
  runtime)
    venv="${2:-.venv}"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q .
    ;;
  dev)
    venv=.venv-dev
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    # torch first, pinned: this takes the CPU build on disk; a looser spec pulls a CUDA build.
    "$venv/bin/pip" install -q torch==2.13.0
    "$venv/bin/pip" install -q -e '.[train,dev]'
    ;;
  *) echo "usage: $0 runtime|dev" >&2; exit 2 ;;
esac
