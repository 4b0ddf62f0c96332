"""Search by text and by example over a real (tiny) library, and play a hit into a JACK input."""

from __future__ import annotations

import pytest
from daemon_harness import (
    CHORALE,
    OscClient,
    Recorder,
    assert_complete,
    make_library,
    start_daemon,
    wait_for_events,
    wait_library_ready,
)

from bridge.music import load_midi


@pytest.fixture(scope="module")
def library_db(tmp_path_factory):
    return make_library(tmp_path_factory.mktemp("lib"), CHORALE)


@pytest.fixture(scope="module")
def daemon(jack_server, library_db, tmp_path_factory):
    d = start_daemon(tmp_path_factory.mktemp("daemon"), jack_server, "--no-model", "--rt-priority", "1",
                     db=library_db)
    wait_library_ready(d)
    yield d
    d.stop()


@pytest.fixture
def client(daemon):
    c = OscClient(daemon.port)
    yield c
    c.close()


def hits_of(messages) -> list[tuple]:
    return [tuple(m.params) for m in messages if m.address == "/midibridge/search/hit"]


def test_status_reports_the_library(client):
    s = client.status()
    assert s["library"] == "ready"
    assert s["library_size"] >= 3
    assert s["models"] == "features"


def test_search_by_text_replies_one_message_per_hit_then_end(client):
    msgs = client.request("/midibridge/search/text", 1, 2, "a waltz in A minor", reply="/midibridge/search/end")
    hits = hits_of(msgs)
    assert len(hits) == 2
    assert [h[1] for h in hits] == [0, 1]
    assert hits[0][2].endswith("waltz_a_minor.mid")
    assert hits[0][3] >= hits[1][3]  # best first
    assert hits[0][8] == "A minor" and hits[0][10] == "3/4"
    end = msgs[-1].params
    assert end[0] == 1 and end[1] == 2

    msgs = client.request("/midibridge/search/text", 2, 5, "anything", "meter=3/4", reply="/midibridge/search/end")
    assert [h[2].rsplit("/", 1)[-1] for h in hits_of(msgs)] == ["waltz_a_minor.mid"]


def test_bad_filters_and_unknown_hits_are_errors(client):
    err = client.request("/midibridge/search/text", 3, 5, "x", "tempo=fast", reply="/midibridge/error")[-1]
    assert err.params[0] == 3 and "tempo must be lo-hi" in err.params[1]
    err = client.request("/midibridge/play/hit", 4, 12345, 0, reply="/midibridge/error")[-1]
    assert err.params[0] == 4 and "no search with id 12345" in err.params[1]
    err = client.request("/midibridge/search/example", 5, 3, "/etc/passwd", reply="/midibridge/error")[-1]
    assert err.params[0] == 5 and "inside the library" in err.params[1]


def test_search_by_example_with_a_library_clip(client, library_db):
    clip = str(library_db.parent / "midi" / "waltz_a_minor.mid")
    msgs = client.request("/midibridge/search/example", 6, 3, clip, reply="/midibridge/search/end")
    files = [h[2].rsplit("/", 1)[-1] for h in hits_of(msgs)]
    assert "waltz_a_minor.mid" not in files  # the example itself is excluded
    assert len(files) == 2


def test_play_a_hit_into_a_jack_input(client, jack_server, library_db):
    msgs = client.request("/midibridge/search/text", 7, 1, "fast scale in C major", reply="/midibridge/search/end")
    (hit,) = hits_of(msgs)
    assert hit[2].endswith("fast_c_major_scale.mid")
    piece = load_midi(hit[2]).window(0, 1e9)
    recorder = Recorder(jack_server.name, "rec-hit")
    try:
        recorder.connect_from("midibridge:out")
        x0 = client.status()["xruns"]
        client.request("/midibridge/tempo/set", 8, 300.0, reply="/midibridge/tempo/get")
        reply = client.request("/midibridge/play/hit", 9, 7, 0, "beat")[-1]
        assert reply.params[0] == 9 and reply.params[2] > 0
        expected = [int(p) for p in piece.notes.pitch][: reply.params[2]]
        wait_for_events(recorder, 2 * len(expected), 30)
        status = client.status()
        assert status["sounding"] == 0
        assert_complete(recorder, expected, status["xruns"] - x0)
    finally:
        recorder.close()


def test_hit_notes_stream_the_notes_of_a_hit(client):
    client.request("/midibridge/search/text", 20, 1, "waltz", "meter=3/4", reply="/midibridge/search/end")
    msgs = client.request("/midibridge/hit/notes", 21, 20, 0, reply="/midibridge/hit/end")
    notes = [m.params for m in msgs if m.address == "/midibridge/hit/note"]
    end = msgs[-1].params
    assert end[1] == len(notes) == 48 and end[4] == "3/4"
    assert [n[3] for n in notes[:6]] == [57, 60, 64, 69, 64, 60]
    assert [n[1] for n in notes[:3]] == [0.0, 0.5, 1.0]


def test_a_killed_search_worker_is_replaced(tmp_path):
    import signal
    import time

    import psutil

    db = make_library(tmp_path / "lib", CHORALE)
    daemon = start_daemon(tmp_path, None, "--midi-api", "none", "--no-model", "--no-generation", "--no-web", db=db)
    client = OscClient(daemon.port)
    try:
        wait_library_ready(daemon)
        (worker,) = [c for c in psutil.Process(daemon.proc.pid).children() if "spawn_main" in " ".join(c.cmdline())]
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        deadline = time.monotonic() + 30
        status = client.status()
        while time.monotonic() < deadline and not (status["worker_restarts"] == 1 and status["library"] == "ready"):
            time.sleep(0.1)
            status = client.status()
        assert status["library"] == "ready" and status["worker_restarts"] == 1
        msgs = client.request("/midibridge/search/text", 1, 2, "waltz", reply="/midibridge/search/end")
        assert msgs[-1].params[1] == 2
    finally:
        client.close()
        daemon.stop()
