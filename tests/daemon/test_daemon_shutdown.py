"""SIGTERM or SIGINT during playback: the daemon exits cleanly and no note is left hanging."""

from __future__ import annotations

import os
import signal
import time

import pytest
from daemon_harness import CHORALE, OscClient, Recorder, notes_from, start_daemon


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_playback_releases_every_note(jack_server, tmp_path, sig):
    daemon = start_daemon(tmp_path, jack_server, "--client-name", f"mb-{sig.name.lower()}")
    recorder = Recorder(jack_server.name, f"rec-{sig.name.lower()}")
    client = OscClient(daemon.port)
    try:
        recorder.connect_from(f"mb-{sig.name.lower()}:out")
        client.request("/midibridge/tempo/set", 1, 60.0, reply="/midibridge/tempo/get")
        client.request("/midibridge/play/file", 2, str(CHORALE), "now")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(notes_from(recorder.events)[1]) < 3:
            time.sleep(0.02)
        ons, sounding = notes_from(recorder.events)
        assert sounding, "playback should be under way with notes sounding"
        assert daemon.stop(sig) == 0
        time.sleep(0.1)
        ons_after, sounding = notes_from(recorder.events)
        assert not sounding, f"hanging notes after {sig.name}: {sounding}"
        assert len(ons_after) < 163  # it really was interrupted
        assert "stopped: 0 notes left sounding" in daemon.log()
    finally:
        daemon.stop(signal.SIGKILL)
        recorder.close()
        client.close()


def test_json_log_lines_and_clean_exit_without_midi(tmp_path):
    import json

    daemon = start_daemon(tmp_path, None, "--midi-api", "none", "--json-log")
    assert daemon.stop(signal.SIGTERM) == 0
    records = [json.loads(line) for line in daemon.log().splitlines() if line.startswith("{")]
    messages = [r["message"] for r in records]
    assert any(m.startswith("ready: OSC on 127.0.0.1:") for m in messages)
    assert any(m.startswith("stopped:") for m in messages)
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)


def test_busy_port_is_a_clean_error(tmp_path):
    import socket
    import subprocess

    from daemon_harness import PYTHON, REPO

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        out = subprocess.run([PYTHON, "-m", "bridge", "serve", "--port", str(port), "--midi-api", "none",
                              "--no-library"], cwd=REPO, capture_output=True, text=True, timeout=60,
                             env={**os.environ, "MIDIBRIDGE_HOME": str(tmp_path)})
    assert out.returncode == 1
    assert f"Error: cannot listen on 127.0.0.1:{port}" in out.stderr
    assert "Traceback" not in out.stderr
