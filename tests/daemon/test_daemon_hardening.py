"""Issue 12, the daemon: every attack and fault found on loopback, through the real path (the daemon as a
subprocess, raw UDP sockets, a JACK dummy server, the CLI)."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from daemon_harness import (
    CHORALE,
    PYTHON,
    REPO,
    OscClient,
    Recorder,
    make_library,
    notes_from,
    start_daemon,
    wait_for_events,
    wait_library_ready,
)
from pythonosc.osc_message_builder import OscMessageBuilder

from bridge.music import NoteList, Piece, TempoChange, save_midi


def osc(address: str, *args) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def bundle(*elements: bytes) -> bytes:
    return b"#bundle\x00" + struct.pack(">Q", 1) + b"".join(struct.pack(">i", len(e)) + e for e in elements)


def drain(client: OscClient, quiet: float = 0.5) -> list:
    """Every message until the socket has been quiet for `quiet` seconds."""
    got = []
    while (m := client.receive(quiet)) is not None:
        got.append(m)
    return got


QUIET = ("--no-web", "--no-generation")  # one worker process (the search worker), no web port


def start(tmp: Path, jack, *extra: str, db: Path | None = None):
    return start_daemon(tmp, jack, *QUIET, *extra, db=db)


def worker_of(daemon, name: str = "spawn_main") -> psutil.Process:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = [c for c in psutil.Process(daemon.proc.pid).children()
                 if name in " ".join(c.cmdline()) and c.status() != psutil.STATUS_ZOMBIE]
        if found:
            return found[0]
        time.sleep(0.05)
    raise TimeoutError("no worker process")


def dense_clip(path: Path, notes: int, per_beat: int = 8) -> Path:
    """A real MIDI file of `notes` short notes (a chord of `per_beat` notes every beat)."""
    save_midi(Piece(notes=NoteList.from_tuples([(i // per_beat, 0.5, 24 + i % per_beat, 80)
                                                for i in range(notes)]),
                    tempos=(TempoChange(0.0, 120.0),)), path)
    return path


@pytest.fixture(scope="module")
def library_db(tmp_path_factory):
    return make_library(tmp_path_factory.mktemp("lib"), CHORALE)


@pytest.fixture(scope="module")
def served(library_db, tmp_path_factory):
    """A daemon on the tiny library, no MIDI, features only."""
    d = start(tmp_path_factory.mktemp("served"), None, "--midi-api", "none", "--no-model", db=library_db)
    wait_library_ready(d)
    yield d
    d.stop()


# ---- the library while it loads; clean exits -------------------------------------------------------------


def test_a_search_sent_while_the_library_loads_waits_and_gets_hits(tmp_path, library_db):
    # With the shipped model the library is ready seconds after the first ping; a patch searches on load.
    daemon = start(tmp_path, None, "--midi-api", "none", db=library_db)
    client = OscClient(daemon.port)
    try:
        assert client.status()["library"] == "loading"
        msgs = client.request("/midibridge/search/text", 1, 2, "a waltz in A minor", reply="/midibridge/search/end",
                              timeout=60)
        assert [m.address for m in msgs] == ["/midibridge/search/hit"] * 2 + ["/midibridge/search/end"]
        assert msgs[-1].params[1] == 2
    finally:
        client.close()
        daemon.stop()


def test_the_hold_is_bounded_then_says_still_loading(tmp_path, library_db):
    daemon = start(tmp_path, None, "--midi-api", "none", "--no-model", db=library_db)
    client = OscClient(daemon.port)
    worker = worker_of(daemon)
    worker.suspend()  # a library that never finishes loading
    try:
        status = client.status()
        if status["library"] != "loading":
            pytest.skip("the library was ready before the worker could be stopped")
        t0 = time.monotonic()
        err = client.request("/midibridge/search/text", 2, 2, "waltz", reply="/midibridge/error", timeout=30)[-1]
        assert err.params[0] == 2 and "library still loading (waited 10 s)" in err.params[1]
        assert time.monotonic() - t0 >= 9.5  # it was held, not refused at once
        assert client.request("/midibridge/ping", 3)[-1].params[1] == "pong"
    finally:
        worker.resume()
        client.close()
        daemon.stop()


def test_sigterm_while_the_library_loads_exits_cleanly(tmp_path, library_db):
    daemon = start(tmp_path, None, "--midi-api", "none", db=library_db)
    assert OscClient(daemon.port).status()["library"] == "loading"
    assert daemon.stop(signal.SIGTERM) == 0
    time.sleep(0.5)  # the worker's own last words, if any, land in the same log
    log = daemon.log()
    assert "Traceback" not in log and "BrokenPipeError" not in log, log
    assert "stopped:" in log


def test_a_busy_port_prints_one_clear_line(tmp_path, library_db):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        out = subprocess.run([PYTHON, "-m", "bridge", "serve", "--port", str(port), "--midi-api", "none", "--no-web",
                              "--db", str(library_db), "--log-level", "ERROR"], cwd=REPO, capture_output=True,
                             text=True, timeout=60, env={**os.environ, "MIDIBRIDGE_HOME": str(tmp_path)})
    assert out.returncode == 1
    assert "Traceback" not in out.stderr and "BrokenPipeError" not in out.stderr, out.stderr
    assert out.stderr.strip().splitlines() == [f"Error: cannot listen on 127.0.0.1:{port}: Address already in use"]


# ---- reply ports -----------------------------------------------------------------------------------------


def test_reply_port_moves_only_the_replies_of_the_client_that_set_it(served):
    a, b, victim = OscClient(served.port), OscClient(served.port), OscClient(served.port)
    try:
        victim_port = victim.sock.getsockname()[1]
        a.send("/midibridge/reply_port", 1, victim_port)
        assert victim.receive(5).params[:2] == [1, victim_port]
        b.request("/midibridge/ping", 2)  # b's replies still come back to b
        assert victim.receive(0.5) is None
        a.send("/midibridge/ping", 3)
        assert victim.receive(5).params[:2] == [3, "pong"]
        assert a.receive(0.3) is None
        a.send("/midibridge/reply_port", 4, 0)  # back to its own port (the answer already goes there)
        assert a.receive(5).params == [4, 0, "client"]
        assert a.request("/midibridge/ping", 5)[-1].params[0] == 5
        # scope host (for oscsend, a new port per message): clients without a port of their own follow it,
        # a client that set its own (a above, with 0) does not.
        b.send("/midibridge/reply_port", 6, victim_port, "host")
        assert victim.receive(5).params == [6, victim_port, "host"]
        fresh = OscClient(served.port)
        fresh.send("/midibridge/ping", 7)
        assert victim.receive(5).params[:2] == [7, "pong"]
        fresh.close()
        assert a.request("/midibridge/ping", 8)[-1].params[0] == 8
        b.send("/midibridge/reply_port", 9, 0, "host")
        assert b.receive(5).params == [9, 0, "host"]  # the host entry is gone: b's replies come home
        assert b.request("/midibridge/ping", 10)[-1].params[0] == 10
    finally:
        a.close()
        b.close()
        victim.close()


def test_a_small_request_cannot_flood_another_port(tmp_path):
    midi = tmp_path / "lib" / "midi"
    midi.mkdir(parents=True)
    dense_clip(midi / "dense_chords.mid", 4000, per_beat=96)  # over 1,500 notes in any window: 80+ KB of hit/note
    from bridge.library import Library

    with Library.open(tmp_path / "lib" / "db") as lib:
        lib.index([midi])
    daemon = start(tmp_path, None, "--midi-api", "none", "--no-model", db=tmp_path / "lib" / "db")
    sender, target = OscClient(daemon.port), OscClient(daemon.port)
    try:
        wait_library_ready(daemon)
        target_port = target.sock.getsockname()[1]
        sender.send("/midibridge/reply_port", 1, target_port)
        assert target.receive(5).params[:2] == [1, target_port]
        # Normal traffic to the other port goes through: a search's hits (a patch listening on 9001).
        sender.send("/midibridge/search/text", 2, 1, "chords")
        got = target.until("/midibridge/search/end", 2)
        assert got[0].address == "/midibridge/search/hit"
        # A 44-byte request for thousands of notes: withheld, with one error at each end instead.
        sender.send("/midibridge/hit/notes", 3, 2, 0)
        at_target = drain(target)
        assert [m.address for m in at_target] == ["/midibridge/error"]
        assert at_target[0].params[0] == 3 and "reply withheld" in at_target[0].params[1]
        at_sender = drain(sender)
        assert [m.address for m in at_sender] == ["/midibridge/error"] and at_sender[0].params[0] == 3
        # From the reply port itself (no redirect) the same request is answered in full.
        target.send("/midibridge/hit/notes", 4, 2, 0)
        full = target.until("/midibridge/hit/end", 4, timeout=20)
        notes = [m for m in full if m.address == "/midibridge/hit/note"]
        assert len(notes) == full[-1].params[1] > 1200
        assert target.status(5)["replies_withheld"] > 1200
    finally:
        sender.close()
        target.close()
        daemon.stop()


# ---- bundles, busy, junk ---------------------------------------------------------------------------------


def test_a_bundle_of_1000_pings_gets_1000_pongs(served):
    client = OscClient(served.port)
    try:
        before = client.status(1)
        client.send_raw(bundle(*(osc("/midibridge/ping", 1000 + i) for i in range(1000))))
        got = []
        while len(got) < 1000 and (m := client.receive(5)) is not None:
            got.append(m)
        assert sorted(m.params[0] for m in got if m.address == "/midibridge/ping") == list(range(1000, 2000))
        after = client.status(2)
        assert after["errors"] == before["errors"]
    finally:
        client.close()


def test_busy_answers_with_the_request_id_and_counts_as_busy(tmp_path):
    # Requests that await (searches) beyond 256 in flight are refused as busy, each with its own id.
    daemon = start(tmp_path, None, "--midi-api", "none")
    client = OscClient(daemon.port)
    try:
        before = client.status(1)
        client.send_raw(bundle(*(osc("/midibridge/search/text", 5000 + i, 1, "waltz") for i in range(300))))
        got = []
        while len(got) < 300 and (m := client.receive(5)) is not None:
            got.append(m)
        busy = [m.params for m in got if "busy" in m.params[1]]
        assert len(busy) == 300 - 256
        assert {p[0] for p in busy} <= set(range(5000, 5300)) and -1 not in {p[0] for p in busy}
        assert all(p[2] == "/midibridge/search/text" for p in busy)
        after = client.status(2)
        assert after["errors_busy"] - before["errors_busy"] == 44
        assert after["errors_parse"] == before["errors_parse"]
    finally:
        client.close()
        daemon.stop()


def test_a_junk_bundle_element_is_answered_counted_and_logged_in_bounded_lines(served):
    client = OscClient(served.port)
    try:
        before = client.status(1)
        log_before = served.log_path.stat().st_size
        junk = b"\x07" * 60_000
        client.send_raw(bundle(osc("/midibridge/ping", 11), junk, osc("/midibridge/ping", 12)))
        got = drain(client)
        assert sorted(m.params[0] for m in got if m.address == "/midibridge/ping") == [11, 12]
        errors = [m.params for m in got if m.address == "/midibridge/error"]
        assert len(errors) == 1 and errors[0][0] == -1 and "bundle element 2" in errors[0][1]
        for i in range(100):  # the 89 MB log of the issue, in small (paced: a 60 KB datagram fills a socket buffer)
            client.send_raw(bundle(osc("/midibridge/ping", 100 + i), junk))
            client.until("/midibridge/ping", 100 + i)
        drain(client, 0.2)
        after = client.status(2)
        assert after["errors_parse"] - before["errors_parse"] == 101
        assert served.log_path.stat().st_size - log_before < 5_000
    finally:
        client.close()


# ---- bad arguments ---------------------------------------------------------------------------------------


def test_bad_filter_values_are_bad_arguments_in_one_line(served):
    client = OscClient(served.port)
    try:
        before = client.status(1)
        err = client.request("/midibridge/search/text", 2, 3, "piano", "key=H major", reply="/midibridge/error")[-1]
        assert err.params[0] == 2 and "not a key: 'H major'" in err.params[1]
        err = client.request("/midibridge/search/text", 3, 3, "piano", "instrument=zzz", reply="/midibridge/error")[-1]
        assert err.params[0] == 3 and "unknown instrument 'zzz'" in err.params[1]
        after = client.status(4)
        assert after["errors_bad_arguments"] - before["errors_bad_arguments"] == 2
        assert after["errors_failed"] == before["errors_failed"]
        assert "Traceback" not in served.log()
    finally:
        client.close()


def test_the_text_limit_holds_for_the_joined_words(served):
    client = OscClient(served.port)
    try:
        words = ["word" * 100] * 100  # 100 strings of 400 characters: each under 512, 40 KB together
        err = client.request("/midibridge/search/text", 5, 3, "piano", *words, reply="/midibridge/error")[-1]
        assert err.params[0] == 5 and "text must be at most 512 characters" in err.params[1]
        msgs = client.request("/midibridge/search/text", 6, 1, "a", "waltz", "in", "A", "minor",
                              reply="/midibridge/search/end")
        assert msgs[-1].params[1] == 1  # split words within the limit still search
    finally:
        client.close()


# ---- the search worker -----------------------------------------------------------------------------------


def test_the_search_worker_is_replaced_however_often_it_dies_and_reaped(tmp_path, library_db):
    daemon = start(tmp_path, None, "--midi-api", "none", "--no-model", db=library_db)
    client = OscClient(daemon.port)
    try:
        wait_library_ready(daemon)
        for kill in range(1, 8):  # the old code gave up after 5 restarts
            worker_of(daemon).kill()
            deadline = time.monotonic() + 40
            status = client.status()
            while time.monotonic() < deadline and not (status["worker_restarts"] == kill
                                                       and status["library"] == "ready"):
                time.sleep(0.1)
                status = client.status()
            assert status["library"] == "ready" and status["worker_restarts"] == kill, status
        zombies = [c for c in psutil.Process(daemon.proc.pid).children() if c.status() == psutil.STATUS_ZOMBIE]
        assert not zombies
        msgs = client.request("/midibridge/search/text", 1, 2, "waltz", reply="/midibridge/search/end")
        assert msgs[-1].params[1] == 2
    finally:
        client.close()
        daemon.stop()


# ---- the library boundary --------------------------------------------------------------------------------


def test_no_library_means_no_file_is_read_by_search_example(tmp_path):
    daemon = start(tmp_path, None, "--midi-api", "none")
    client = OscClient(daemon.port)
    try:
        err = client.request("/midibridge/search/example", 1, 3, "/etc/passwd", reply="/midibridge/error")[-1]
        assert err.params[0] == 1 and "no library configured" in err.params[1]
    finally:
        client.close()
        daemon.stop()


def test_play_file_outside_the_library_is_refused_alike_whether_it_exists_or_not(tmp_path, library_db, jack_server):
    outside = tmp_path / "outside"
    outside.mkdir()
    real_midi = dense_clip(outside / "real.mid", 8)
    (library_db.parent / "midi" / "link.mid").unlink(missing_ok=True)
    (library_db.parent / "midi" / "link.mid").symlink_to(real_midi)  # a symlink in the library that leaves it
    daemon = start(tmp_path, jack_server, "--no-model", "--client-name", "mb-boundary",
                          db=library_db)
    client = OscClient(daemon.port)
    try:
        wait_library_ready(daemon)
        reasons = []
        for i, path in enumerate([real_midi, outside / "missing.mid", Path("/etc/passwd"), outside,
                                  library_db.parent / "midi" / "link.mid"]):
            err = client.request("/midibridge/play/file", 10 + i, str(path), "now", reply="/midibridge/error")[-1]
            reasons.append(err.params[1].replace(repr(str(path)), "PATH"))
        assert len(set(reasons)) == 1, reasons
        assert "inside the library" in reasons[0]
        ok = client.request("/midibridge/play/file", 20, str(library_db.parent / "midi" / "waltz_a_minor.mid"),
                            "now")[-1]
        assert ok.address == "/midibridge/play/file" and ok.params[2] == 48
        client.request("/midibridge/play/stop", 21)
    finally:
        (library_db.parent / "midi" / "link.mid").unlink(missing_ok=True)
        client.close()
        daemon.stop()


# ---- playing ---------------------------------------------------------------------------------------------


def test_one_play_request_is_capped_and_says_so(tmp_path, jack_server):
    db = make_library(tmp_path / "lib", CHORALE)
    big = tmp_path / "lib" / "midi" / "later"
    big.mkdir()
    dense_clip(big / "huge.mid", 100_000, per_beat=16)
    daemon = start(tmp_path, jack_server, "--no-model", "--client-name", "mb-cap", db=db)
    client = OscClient(daemon.port)
    try:
        wait_library_ready(daemon)
        client.send("/midibridge/play/file", 1, str(big / "huge.mid"), "now")
        client.send("/midibridge/ping", 2)
        got = client.until("/midibridge/error", 1, timeout=60)
        assert [m.address for m in got].index("/midibridge/ping") < [m.address for m in got].index("/midibridge/error")
        reason = got[-1].params[1]
        assert "100000 notes" in reason and "at most 20000" in reason
        assert client.status()["pending"] == 0
    finally:
        client.close()
        daemon.stop()


def test_play_while_the_transport_is_stopped_waits_for_it_and_says_so(tmp_path, jack_server):
    daemon = start(tmp_path, jack_server, "--client-name", "mb-wait")
    recorder = Recorder(jack_server.name, "rec-wait")
    client = OscClient(daemon.port)
    try:
        recorder.connect_from("mb-wait:out")
        client.request("/midibridge/tempo/set", 1, 240.0, reply="/midibridge/tempo/get")
        client.request("/midibridge/transport/stop", 2, reply="/midibridge/tempo/get")
        reply = client.request("/midibridge/play/file", 3, str(CHORALE), "now")[-1]
        assert reply.params[0] == 3 and reply.params[1] == -1.0 and reply.params[3] == "waiting for transport"
        notes = reply.params[2]
        time.sleep(1.0)
        assert recorder.events == []  # nothing while stopped
        client.request("/midibridge/transport/start", 4, reply="/midibridge/tempo/get")
        wait_for_events(recorder, 8, 10)
        ons, _ = notes_from(recorder.events)
        assert ons, "the waiting clip starts with the transport"
        assert client.request("/midibridge/play/stop", 5)[-1].params[1] > 0
        assert notes > 0
        # running: scheduled as before, with its state
        reply = client.request("/midibridge/play/file", 6, str(CHORALE), "bar")[-1]
        assert reply.params[1] >= 0 and reply.params[3] == "scheduled"
        client.request("/midibridge/play/stop", 7)
    finally:
        recorder.close()
        client.close()
        daemon.stop()


# ---- status ----------------------------------------------------------------------------------------------


def test_status_shows_datagrams_send_errors_and_writer_errors(served):
    client = OscClient(served.port)
    try:
        before = client.status(1)
        for key in ("datagrams", "replies_sent", "send_errors", "writer_errors", "replies_withheld"):
            assert isinstance(before[key], int), key
        for i in range(10):
            client.request("/midibridge/ping", 10 + i)
        client.send_raw(b"junk")
        client.receive(5)
        after = client.status(2)
        assert after["datagrams"] - before["datagrams"] == 12  # 10 pings, the junk, and status 1 itself
        assert after["replies_sent"] - before["replies_sent"] >= 12
    finally:
        client.close()


# ---- re-indexing from OSC --------------------------------------------------------------------------------


def test_library_index_from_osc_picks_up_new_files_with_progress(tmp_path):
    db = make_library(tmp_path / "lib", CHORALE)
    daemon = start(tmp_path, None, "--midi-api", "none", "--no-model", db=db)
    client = OscClient(daemon.port)
    try:
        wait_library_ready(daemon)
        added = tmp_path / "lib" / "midi" / "new_folder"
        added.mkdir()
        dense_clip(added / "zebra_chords.mid", 64)
        msgs = client.request("/midibridge/search/text", 1, 10, "zebra", reply="/midibridge/search/end")
        assert not any("zebra" in m.params[2] for m in msgs if m.address == "/midibridge/search/hit")
        msgs = client.request("/midibridge/library/index", 2, timeout=120)
        progress = [m.params for m in msgs if m.address == "/midibridge/library/progress"]
        assert progress and all(p[0] == 2 for p in progress)
        end = msgs[-1].params
        assert end[0] == 2 and end[2] == 1  # one file added
        msgs = client.request("/midibridge/search/text", 3, 100, "anything", reply="/midibridge/search/end")
        assert any(m.params[2].endswith("zebra_chords.mid") for m in msgs if m.address == "/midibridge/search/hit")
        assert client.status()["library_size"] > 0
    finally:
        client.close()
        daemon.stop()


def test_a_folder_indexed_by_the_cli_while_serving_is_picked_up(tmp_path):
    db = make_library(tmp_path / "lib", CHORALE)
    daemon = start(tmp_path, None, "--midi-api", "none", "--no-model", db=db)
    client = OscClient(daemon.port)
    try:
        wait_library_ready(daemon)
        other = tmp_path / "other_root"
        other.mkdir()
        clip = dense_clip(other / "elsewhere.mid", 32)
        err = client.request("/midibridge/search/example", 1, 2, str(clip), reply="/midibridge/error")[-1]
        assert "inside the library" in err.params[1]
        subprocess.run([PYTHON, "-m", "bridge", "index", str(other), "--db", str(db), "--no-embed"], cwd=REPO,
                       check=True, capture_output=True, timeout=120, env=daemon.env)
        msgs = client.request("/midibridge/search/example", 2, 2, str(clip), reply="/midibridge/search/end")
        assert msgs[-1].params[1] == 2
    finally:
        client.close()
        daemon.stop()
