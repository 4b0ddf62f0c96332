"""Port listing and connecting over OSC, the rtmidi sender-thread backend, and the `ports` command."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner
from daemon_harness import CHORALE, OscClient, Recorder, assert_complete, start_daemon, wait_for_events

from bridge.cli.main import main
from bridge.music import load_midi


@pytest.fixture(scope="module")
def daemon(jack_server, tmp_path_factory):
    d = start_daemon(tmp_path_factory.mktemp("ports"), jack_server, "--client-name", "mbports")
    yield d
    d.stop()


def test_list_connect_and_disconnect_ports_over_osc(daemon, jack_server):
    client = OscClient(daemon.port)
    recorder = Recorder(jack_server.name, "rec-ports")
    try:
        msgs = client.request("/midibridge/ports/list", 1, reply="/midibridge/ports/end")
        ports = {m.params[2]: (m.params[1], m.params[3]) for m in msgs if m.address == "/midibridge/ports/port"}
        assert ports["mbports:out"] == ("own_out", 0) and ports["mbports:in"] == ("own_in", 0)
        assert ports[recorder.name] == ("sink", 0)
        assert msgs[-1].params[2] == "jack"

        assert client.request("/midibridge/ports/connect", 2, "out", recorder.name)[-1].params == [2, "out",
                                                                                                   recorder.name]
        msgs = client.request("/midibridge/ports/list", 3, reply="/midibridge/ports/end")
        ports = {m.params[2]: m.params[3] for m in msgs if m.address == "/midibridge/ports/port"}
        assert ports[recorder.name] == 1 and ports["mbports:out"] == 1

        err = client.request("/midibridge/ports/connect", 4, "out", "nobody:here", reply="/midibridge/error")[-1]
        assert err.params[0] == 4 and "no MIDI port named 'nobody:here'" in err.params[1]
        client.request("/midibridge/ports/disconnect", 5, "out", recorder.name)
        msgs = client.request("/midibridge/ports/list", 6, reply="/midibridge/ports/end")
        assert {m.params[2]: m.params[3] for m in msgs if m.address == "/midibridge/ports/port"}[recorder.name] == 0
    finally:
        recorder.close()
        client.close()


def test_rtmidi_sender_thread_backend_plays_every_note(jack_server, tmp_path):
    """The non-JACK path (ALSA, CoreMIDI, Windows MIDI) is python-rtmidi plus a sender thread; rtmidi's own
    JACK API runs that same code here."""
    daemon = start_daemon(tmp_path, jack_server, "--midi-api", "rtmidi-jack", "--client-name", "mbrt")
    client = OscClient(daemon.port)
    recorder = Recorder(jack_server.name, "rec-rtmidi")
    try:
        status = client.status()
        assert status["midi_backend"] == "rtmidi-jack"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any("mbrt" in n for n in jack_ports(recorder)):
            time.sleep(0.05)
        (out,) = [n for n in jack_ports(recorder) if n.startswith("mbrt") and n.endswith(":out")]
        recorder.connect_from(out)
        piece = load_midi(CHORALE)
        client.request("/midibridge/tempo/set", 1, 300.0, reply="/midibridge/tempo/get")
        client.request("/midibridge/play/file", 2, str(CHORALE), "now")
        wait_for_events(recorder, 2 * len(piece.notes), piece.end / 5 + 10)
        time.sleep(0.2)
        status = client.status()
        assert status["sounding"] == 0 and status["pending"] == 0
        assert_complete(recorder, [int(p) for p in piece.notes.pitch], status["xruns"] + recorder.xruns,
                        ordered=False)
    finally:
        recorder.close()
        client.close()
        daemon.stop()


def jack_ports(recorder: Recorder) -> list[str]:
    return [p.name for p in recorder.client.get_ports(is_midi=True)]


def test_no_midi_api_is_reported_and_play_is_refused(tmp_path):
    daemon = start_daemon(tmp_path, None, "--midi-api", "none")
    client = OscClient(daemon.port)
    try:
        status = client.status()
        assert status["midi_backend"] == "none" and "disabled" in status["midi_problem"]
        err = client.request("/midibridge/play/file", 1, str(CHORALE), reply="/midibridge/error")[-1]
        assert err.params[0] == 1 and "no MIDI output" in err.params[1]
        assert client.request("/midibridge/ping", 2)[-1].params[1] == "pong"
    finally:
        client.close()
        daemon.stop()


def test_ports_command_lists_jack_ports(jack_server, monkeypatch):
    for key, value in jack_server.env().items():
        monkeypatch.setenv(key, value)
    recorder = Recorder(jack_server.name, "rec-cli")
    try:
        result = CliRunner().invoke(main, ["ports", "--json", "--midi-api", "jack"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        assert report["backend"] == "jack"
        assert {"kind": "sink", "name": recorder.name} in report["ports"]
    finally:
        recorder.close()
    result = CliRunner().invoke(main, ["ports", "--midi-api", "none"])
    assert result.exit_code == 0 and "backend: none" in result.output
