#!/usr/bin/env bash
# Idempotent setup on a fresh Debian machine.
#   scripts/setup.sh runtime [VENV]   -> VENV (default .venv) with the runtime only (no torch): enough to serve
#   scripts/setup.sh dev              -> .venv-dev with torch (CPU), training extras and test tools
# A second run with nothing changed installs nothing: a stamp in the venv records the last install, and only
# a source or pyproject file newer than it triggers a reinstall.
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-runtime}"

# System packages the daemon and the tests use: JACK (real virtual MIDI ports), liblo's
# oscsend/oscdump, headless Pure Data, FluidSynth for previews, MMA for corpus grooves.
APT_PACKAGES="jackd2 liblo-tools puredata-core fluidsynth timgm6mb-soundfont mma"
# The browser tests of the web page drive Debian's Chromium: the dev setup only, not the runtime's.
if [ "$kind" = dev ]; then APT_PACKAGES="$APT_PACKAGES chromium"; fi
missing=""
for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi

# A venv path that is a dangling symlink (left by an old checkout) would make `python3 -m venv` fail
# with "File exists": remove the link, never what it points to.
make_venv() {
  if [ -L "$1" ] && [ ! -e "$1/bin/python" ]; then rm -f "$1"; fi
  [ -x "$1/bin/python" ] || python3 -m venv "$1"
}

up_to_date() {  # $1: venv; true when installed and no source is newer than the stamp
  local stamp="$1/.midibridge-installed"
  [ -x "$1/bin/midibridge" ] && [ -f "$stamp" ] &&
    [ -z "$(find pyproject.toml bridge models export -newer "$stamp" -print -quit)" ]
}

case "$kind" in
  runtime)
    venv="${2:-.venv}"
    if up_to_date "$venv"; then
      echo "midibridge runtime in $venv is up to date"
    else
      make_venv "$venv"
      "$venv/bin/pip" install -q --upgrade pip
      "$venv/bin/pip" install -q .
      touch "$venv/.midibridge-installed"
    fi
    ;;
  dev)
    venv=.venv-dev
    make_venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    # torch first, pinned: this takes the CPU build on disk; a looser spec pulls a CUDA build.
    "$venv/bin/pip" install -q torch==2.13.0
    "$venv/bin/pip" install -q -e '.[train,dev]'
    ;;
  *) echo "usage: $0 runtime|dev" >&2; exit 2 ;;
esac
