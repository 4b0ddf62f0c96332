"""MIDI into "midibridge in" on a JACK dummy server: following MIDI clock, and query by playing."""

from __future__ import annotations

import time

import pytest
from daemon_harness import (
    CHORALE,
    OscClient,
    Player,
    Recorder,
    make_library,
    notes_from,
    start_daemon,
    wait_library_ready,
)

RATE = 48000


@pytest.fixture(scope="module")
def library_db(tmp_path_factory):
    return make_library(tmp_path_factory.mktemp("lib"), CHORALE)


PLAY = None  # set by the daemon fixture


@pytest.fixture(scope="module")
def daemon(jack_server, library_db, tmp_path_factory):
    # play/file reads the library's folders and --play-dir ones only: the clips these tests write live in PLAY.
    global PLAY
    PLAY = tmp_path_factory.mktemp("play")
    d = start_daemon(tmp_path_factory.mktemp("daemon"), jack_server, "--no-model", "--silence-beats", "1",
                     "--rt-priority", "1", "--play-dir", str(PLAY), db=library_db)
    wait_library_ready(d)
    yield d
    d.stop()


@pytest.fixture
def client(daemon):
    c = OscClient(daemon.port)
    yield c
    c.request("/midibridge/clock/source", 99, "internal", reply="/midibridge/tempo/get")
    c.close()


def test_follows_midi_clock_and_plays_on_its_bars(client, jack_server, tmp_path):
    from bridge.music import NoteList, Piece, save_midi

    player = Player(jack_server.name, "clock-master")
    recorder = Recorder(jack_server.name, "rec-clock")
    try:
        player.connect_to("midibridge:in")
        recorder.connect_from("midibridge:out")
        client.request("/midibridge/clock/source", 1, "midi", reply="/midibridge/tempo/get")
        per_pulse = RATE * 60 / (125.0 * 24)  # 960 frames: 125 BPM
        pulses = 24 * 16  # four bars
        events = [(0.0, bytes([0xFA]))] + [(i * per_pulse / RATE, bytes([0xF8])) for i in range(pulses)]
        base = player.play(events)
        time.sleep(1.5)  # a little over 3 beats of clock
        tempo = client.request("/midibridge/tempo/get", 2)[-1].params
        assert tempo[2] == "midi" and tempo[4] == 1
        assert abs(tempo[1] - 125.0) < 0.01
        err = client.request("/midibridge/tempo/set", 3, 90.0, reply="/midibridge/error")[-1]
        assert "follows MIDI clock" in err.params[1]

        save_midi(Piece(notes=NoteList.from_tuples([(0, 0.5, 72), (1, 0.5, 74)])), PLAY / "two.mid")
        reply = client.request("/midibridge/play/file", 4, str(PLAY / "two.mid"), "bar")[-1].params
        start_beat = reply[1]
        assert start_beat % 4 == 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(recorder.events) < 4:
            time.sleep(0.05)
        ons = [(f, d) for f, d in recorder.events if d[0] & 0xF0 == 0x90]
        assert [d[1] for _, d in ons] == [72, 74]
        # The note lands on the clock pulse of that bar (pulse 24 * beat), to within a frame.
        expected = base + round(start_beat * 24 * per_pulse)
        if recorder.xruns == 0:
            assert abs(ons[0][0] - expected) <= 1, (ons[0][0], expected)
    finally:
        player.close()
        recorder.close()


def test_query_by_playing_replies_hits_and_plays_the_best(client, jack_server):
    player = Player(jack_server.name, "keyboard")
    recorder = Recorder(jack_server.name, "rec-capture")
    try:
        player.connect_to("midibridge:in")
        recorder.connect_from("midibridge:out")
        client.request("/midibridge/tempo/set", 10, 240.0, reply="/midibridge/tempo/get")
        msgs = client.request("/midibridge/capture/start", 11, 2, 1)
        assert msgs[-1].params[1] == 1.0  # silence in beats
        # An A-minor arpeggio in 3/4, like the waltz in the library.
        arpeggio = [57, 60, 64, 69, 64, 60] * 2
        events = []
        for i, p in enumerate(arpeggio):
            events += [(i * 0.125, bytes([0x90, p, 80])), (i * 0.125 + 0.1, bytes([0x80, p, 0]))]
        player.play(events)
        msgs = client.until("/midibridge/search/end", 11, timeout=20)
        phrase = next(m.params for m in msgs if m.address == "/midibridge/capture/phrase")
        assert phrase[0] == 11 and phrase[1] == len(arpeggio)
        assert phrase[3] == "A minor"
        hits = [m.params for m in msgs if m.address == "/midibridge/search/hit"]
        assert len(hits) == 2 and hits[0][2].endswith("waltz_a_minor.mid")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(notes_from(recorder.events)[0]) < 4:
            time.sleep(0.05)
        assert [p for _, p in notes_from(recorder.events)[0][:3]] == [57, 60, 64]  # the waltz starts playing
        assert client.request("/midibridge/play/stop", 12)[-1].params[0] == 12
        # The phrase is kept: search by example without a path uses it.
        msgs = client.request("/midibridge/search/example", 13, 1, reply="/midibridge/search/end")
        assert msgs[-1].params[1] == 1
        time.sleep(0.1)
        assert not notes_from(recorder.events)[1] or recorder.xruns
    finally:
        player.close()
        recorder.close()
