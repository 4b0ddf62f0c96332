"""The daemon as a subprocess on a JACK dummy server, driven by liblo's oscsend/oscdump."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from daemon_harness import (
    CHORALE,
    LineReader,
    OscClient,
    Recorder,
    assert_complete,
    free_udp_port,
    make_library,
    start_daemon,
    wait_for_events,
    wait_library_ready,
)

from bridge.music import NoteList, Piece, TempoChange, load_midi, save_midi

pytestmark = pytest.mark.skipif(not shutil.which("oscsend"), reason="liblo-tools not installed")


@pytest.fixture(scope="module")
def library_dir(tmp_path_factory) -> Path:
    """play/file reads only files inside the library's folders: the clips these tests play live there."""
    root = tmp_path_factory.mktemp("lib")
    make_library(root, CHORALE)
    return root / "midi"


@pytest.fixture(scope="module")
def daemon(jack_server, library_dir, tmp_path_factory):
    d = start_daemon(tmp_path_factory.mktemp("daemon"), jack_server, "--no-model", db=library_dir.parent / "db")
    wait_library_ready(d)
    yield d
    d.stop()


@pytest.fixture
def oscdump():
    port = free_udp_port()
    proc = subprocess.Popen(["oscdump", "-L", str(port)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(0.2)  # oscdump binds before it prints anything; give it a moment
    yield port, LineReader(proc.stdout)
    proc.terminate()
    proc.wait(timeout=5)


def oscsend(port: int, address: str, types: str = "", *args) -> None:
    subprocess.run(["oscsend", "localhost", str(port), address, types, *map(str, args)], check=True, timeout=10)


def read_lines(reader: LineReader, want: int, timeout: float = 10.0) -> list[str]:
    """oscdump prints `<timetag> <address> <types> <args...>` per message."""
    return reader.until(lambda got: len(got) >= want, timeout)


def test_ping_status_and_errors_through_oscsend_and_oscdump(daemon, oscdump):
    port, dump = oscdump
    # oscsend sends each message from a new port: the reply port is set for every client of this host
    oscsend(daemon.port, "/midibridge/reply_port", "iis", 1, port, "host")
    oscsend(daemon.port, "/midibridge/ping", "i", 2)
    oscsend(daemon.port, "/midibridge/nope", "i", 3)
    oscsend(daemon.port, "/midibridge/search/text", "iis", 4, 0, "k is out of range")
    oscsend(daemon.port, "/midibridge/tempo/set", "if", 5, 96.0)
    oscsend(daemon.port, "/midibridge/status", "i", 6)
    lines = read_lines(dump, 6)
    assert len(lines) == 6, lines
    addresses = [line.split()[1] for line in lines]
    assert addresses == ["/midibridge/reply_port", "/midibridge/ping", "/midibridge/error", "/midibridge/error",
                         "/midibridge/tempo/get", "/midibridge/status"]
    assert '"pong"' in lines[1]
    assert "unknown address" in lines[2] and lines[2].split()[3] == "3"
    assert "k must be an int in 1..100, got 0" in lines[3] and lines[3].split()[3] == "4"
    assert lines[4].split()[4].startswith("96.0")
    status = lines[5]
    assert '"midi_backend" "jack"' in status
    assert '"clock_source" "internal"' in status
    assert '"tempo" 96.0' in status
    assert '"errors" 2' in status and '"errors_unknown_address" 1' in status and '"errors_bad_arguments" 1' in status
    oscsend(daemon.port, "/midibridge/reply_port", "iis", 7, 0, "host")


def _melody(path) -> list[int]:
    pitches = [60, 62, 64, 65, 67, 65, 64, 62, 60, 60]  # a repeated note at the end: retriggers cleanly
    notes = NoteList.from_tuples([(i * 0.25, 0.25, p, 90) for i, p in enumerate(pitches)])
    save_midi(Piece(notes=notes, tempos=(TempoChange(0.0, 120.0),)), path)
    return pitches


def test_play_file_reaches_a_jack_input_with_every_note_off(daemon, jack_server, library_dir, chorale_path):
    client = OscClient(daemon.port)
    recorder = Recorder(jack_server.name, "rec-play")
    try:
        recorder.connect_from("midibridge:out")
        pitches = _melody(library_dir / "melody.mid")
        xruns0 = client.status()["xruns"]
        oscsend(daemon.port, "/midibridge/tempo/set", "if", 10, 240.0)
        oscsend(daemon.port, "/midibridge/play/file", "iss", 11, str(library_dir / "melody.mid"), "now")
        wait_for_events(recorder, 2 * len(pitches), 10)
        time.sleep(0.2)
        status = client.status()
        assert status["sounding"] == 0 and status["pending"] == 0
        assert_complete(recorder, pitches, status["xruns"] - xruns0)

        # The chorale: four voices on four channels, every note, every note-off.
        recorder.events.clear()
        chorale = load_midi(chorale_path)
        xruns0 = status["xruns"]
        oscsend(daemon.port, "/midibridge/tempo/set", "if", 12, 300.0)
        oscsend(daemon.port, "/midibridge/play/file", "iss", 13, str(chorale_path), "beat")
        wait_for_events(recorder, 2 * len(chorale.notes), chorale.end / 5 + 10)
        time.sleep(0.2)
        status = client.status()
        assert status["sounding"] == 0 and status["pending"] == 0
        assert_complete(recorder, [int(p) for p in chorale.notes.pitch], status["xruns"] - xruns0, ordered=False)
    finally:
        recorder.close()
        client.close()
