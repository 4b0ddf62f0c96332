"""The jam through real parts: a daemon on a JACK dummy server, a JACK recorder on "midibridge out", a JACK
player on "midibridge in", OSC from a plain UDP client.

Frames are exact on JACK, so the tests read the grid off the recording: every generated note starts on a
sixteenth of the stream's tempo counted from its first bar line.
"""

from __future__ import annotations

import shutil
import time

import pytest
from daemon_harness import CHORALE, OscClient, Player, Recorder, make_library, notes_from, start_daemon

from bridge.generation.harmony import scale_pcs

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not shutil.which("jackd"), reason="jackd not installed")]

RATE = 48000
JAM_CHANNELS = {11, 12, 13}


def frames_per_beat(bpm: float) -> float:
    return RATE * 60.0 / bpm


def note_ons(events, channels=JAM_CHANNELS):
    return [(f, d[0] & 0x0F, d[1]) for f, d in events if len(d) == 3 and d[0] & 0xF0 == 0x90 and d[2] > 0
            and d[0] & 0x0F in channels]


def drain(client: OscClient, seconds: float) -> list:
    got, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        m = client.receive(max(0.01, deadline - time.monotonic()))
        if m is not None:
            got.append(m)
    return got


def in_key_share(pitches, tonic_pc: int, mode: str) -> float:
    scale = scale_pcs(tonic_pc, mode)
    return sum(1 for p in pitches if p % 12 in scale) / max(1, len(pitches))


@pytest.fixture
def jam(tmp_path, jack_server):
    """A daemon (no library), a recorder on its out port, a player into its in port, an OSC client."""
    daemon = start_daemon(tmp_path, jack_server, "--no-web", "--bpm", "120")
    recorder = Recorder(jack_server.name, "jamrec")
    recorder.connect_from("midibridge:out")
    player = Player(jack_server.name, "jamplayer")
    player.connect_to("midibridge:in")
    client = OscClient(daemon.port)
    deadline = time.monotonic() + 30
    while client.status().get("jam") is None and time.monotonic() < deadline:
        time.sleep(0.1)
    yield daemon, recorder, player, client
    client.close()
    player.close()
    recorder.close()
    daemon.stop()


def beat_to_frame(client: OscClient, recorder: Recorder, beat: float) -> float:
    """Where a beat of the daemon's clock falls on the recorder's frame clock (to within the UDP round trip)."""
    t_frame = recorder.client.frame_time
    reply = client.request("/midibridge/tempo/get", 77)[-1].params
    bpm, now_beat = reply[1], reply[3]
    from bridge.midi.queue import unwrap32

    now_frame = unwrap32(t_frame, recorder._t0)
    return now_frame + (beat - now_beat) * frames_per_beat(bpm)


def test_a_stream_starts_on_the_promised_bar_line_on_the_grid_and_in_its_key(jam):
    daemon, recorder, _, client = jam
    reply = client.request("/midibridge/generate/start", 1, "a melody in D minor", "bars=4", "tempo=120",
                           reply="/midibridge/generate/start", timeout=20)[-1].params
    start_beat, key, meter, bpm, bars = reply[1:]
    assert (key, meter, bars) == ("D minor", "4/4", 4)
    assert start_beat % 4 == 0
    expected = beat_to_frame(client, recorder, start_beat)
    deadline = time.monotonic() + 30
    while client.status().get("jam") != "finished" and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.3)
    ons = note_ons(recorder.events)
    assert ons, daemon.log()
    first = ons[0][0]
    # On the promised bar line: within a sixteenth (the estimate only carries the UDP round trip).
    assert abs(first - expected) < frames_per_beat(bpm) / 4, (first, expected)
    # Sample accurate: every onset on the sixteenth grid counted from the first bar line, no late events.
    sixteenth = frames_per_beat(bpm) / 4
    off_grid = [f for f, _, _ in ons if min((f - first) % sixteenth, sixteenth - (f - first) % sixteenth) > 1]
    status = client.status()
    if status["xruns"] == 0 and recorder.xruns == 0:
        assert not off_grid, off_grid[:5]
    assert status["jam_late_bars"] == 0 and status["late"] == 0
    # Four bars long, and every note released.
    assert max(f for f, _, _ in ons) < first + 4 * 4 * frames_per_beat(bpm)
    _, sounding = notes_from(recorder.events)
    assert not sounding
    assert {ch for _, ch, _ in ons} <= JAM_CHANNELS and {13} & {ch for _, ch, _ in ons}
    assert in_key_share([p for _, _, p in ons], 2, "minor") >= 0.8


def test_a_key_change_takes_effect_at_the_next_uncommitted_bar_and_stop_releases_everything(jam):
    daemon, recorder, _, client = jam
    client.request("/midibridge/generate/listen", 2, 1, reply="/midibridge/generate/state")
    start = client.request("/midibridge/generate/start", 3, "in C major", "tempo=150", "temperature=0.7",
                           reply="/midibridge/generate/start", timeout=20)[-1].params[1]
    drain(client, 2.5)
    got = client.request("/midibridge/generate/set", 4, "key=F# major", reply="/midibridge/generate/set", timeout=10)
    from_beat = got[-1].params[1]
    assert from_beat > start and (from_beat - start) % 4 == 0
    state_and_bars = got + drain(client, 5.0)
    assert any(m.address == "/midibridge/generate/state" and "F# major" in m.params for m in state_and_bars)
    bars = [m.params for m in state_and_bars if m.address == "/midibridge/generate/bar"]
    assert bars and all(p[2] % 4 == 0 for p in bars)
    stopped = client.request("/midibridge/generate/stop", 5, reply="/midibridge/generate/stop")[-1].params
    assert stopped[1] >= 3
    time.sleep(0.5)
    _, sounding = notes_from(recorder.events)
    assert not sounding, sounding
    first = note_ons(recorder.events)[0][0]
    change = first + (from_beat - start) * frames_per_beat(150)
    before = [p for f, ch, p in note_ons(recorder.events) if f < change - 1]
    after = [p for f, ch, p in note_ons(recorder.events) if f >= change - 1]
    assert before and after
    assert in_key_share(before, 0, "major") >= 0.8
    assert in_key_share(after, 6, "major") >= 0.8
    assert client.status()["jam"] == "stopped"


def test_a_stream_and_a_hit_together_leave_no_note_hanging(tmp_path, jack_server):
    db = make_library(tmp_path / "lib", CHORALE)
    daemon = start_daemon(tmp_path, jack_server, "--no-web", db=db)
    recorder = Recorder(jack_server.name, "jamrec2")
    recorder.connect_from("midibridge:out")
    client = OscClient(daemon.port)
    try:
        deadline = time.monotonic() + 60
        while client.status().get("library") != "ready" and time.monotonic() < deadline:
            time.sleep(0.2)
        client.request("/midibridge/generate/start", 1, "a tune in A minor", "tempo=160",
                       reply="/midibridge/generate/start", timeout=20)
        client.request("/midibridge/search/text", 2, 1, "chorale", reply="/midibridge/search/end", timeout=30)
        client.request("/midibridge/play/hit", 3, 2, 0, "beat", reply="/midibridge/play/hit", timeout=20)
        time.sleep(3.0)
        client.request("/midibridge/generate/stop", 4, reply="/midibridge/generate/stop")
        time.sleep(1.0)
        hit_ons = note_ons(recorder.events, channels=set(range(11)))
        assert hit_ons, "the hit stopped with the stream"  # the hit still plays after the stream stopped
        last_hit_on = max(f for f, _, _ in hit_ons)
        client.request("/midibridge/play/stop", 5, reply="/midibridge/play/stop")
        time.sleep(0.5)
        _, sounding = notes_from(recorder.events)
        assert not sounding, sounding
        assert last_hit_on > note_ons(recorder.events)[0][0]
    finally:
        client.close()
        recorder.close()
        daemon.stop()


def test_a_call_is_answered_on_the_next_bar_line_in_the_calls_key(jam):
    daemon, recorder, player, client = jam
    client.request("/midibridge/tempo/set", 1, 120.0, reply="/midibridge/tempo/get")
    armed = client.request("/midibridge/generate/call/start", 2, "respond", 2,
                           reply="/midibridge/generate/call/start")[-1].params
    assert armed[1:] == ["respond", 2]
    tempo = client.request("/midibridge/tempo/get", 3)[-1].params
    beat_now = tempo[3]
    call_start = (int(beat_now // 4) + 1) * 4  # the next bar line
    seconds_to_start = (call_start - beat_now) * 0.5
    # Two bars of an A-minor phrase, a little humanised, starting on that bar line.
    phrase = [57, 60, 64, 69, 67, 64, 62, 60, 59, 62, 64, 68, 69, 64, 60, 57]
    events = []
    for i, p in enumerate(phrase):
        t = seconds_to_start - 0.05 + i * 0.25 + (0.004 if i % 3 else -0.003)
        events += [(t, bytes([0x90, p, 80 + i % 20])), (t + 0.2, bytes([0x80, p, 0]))]
    player.play(events, lead=0.05)
    answer = client.until("/midibridge/generate/call/answer", 2, timeout=20)[-1].params
    start_beat, bars, key, ready_ms = answer[1:]
    assert start_beat == call_start + 8, answer
    assert bars == 2 and key == "A minor"
    assert ready_ms > 0  # ready before its bar line
    expected = beat_to_frame(client, recorder, start_beat)
    time.sleep(max(0.0, (start_beat - client.request("/midibridge/tempo/get", 4)[-1].params[3]) * 0.5) + 4.5)
    ons = note_ons(recorder.events)
    assert ons
    assert abs(ons[0][0] - expected) < frames_per_beat(120) / 4, (ons[0][0], expected)
    assert in_key_share([p for _, _, p in ons], 9, "minor") >= 0.8
    _, sounding = notes_from(recorder.events)
    assert not sounding


def test_host_sync_moves_the_stream_to_the_hosts_tempo(jam):
    daemon, recorder, _, client = jam
    reply = client.request("/midibridge/clock/sync", 1, 90.0, 32.0, 4, reply="/midibridge/tempo/get")[-1].params
    assert reply[1] == 90.0 and reply[2] == "host"
    start = client.request("/midibridge/generate/start", 2, "a tune in G major", "bars=2", "density=2",
                           reply="/midibridge/generate/start", timeout=20)[-1].params
    assert start[4] == 90.0 and start[1] % 4 == 0
    time.sleep((start[1] - 32.0) * 60 / 90 + 2 * 4 * 60 / 90 + 1.0)
    ons = note_ons(recorder.events)
    assert ons
    first = ons[0][0]
    sixteenth = frames_per_beat(90) / 4
    if client.status()["xruns"] == 0 and recorder.xruns == 0:
        assert all(min((f - first) % sixteenth, sixteenth - (f - first) % sixteenth) <= 1 for f, _, _ in ons)
    assert max(f for f, _, _ in ons) - first < 2 * 4 * frames_per_beat(90)


def test_bad_controls_get_one_clear_error_and_the_daemon_keeps_serving(jam):
    daemon, _, _, client = jam
    for args, needle in ((("", "key=H# major"), "not a key"), (("", "temperature=9"), "temperature must be in 0..2"),
                         (("", "mute=kazoo"), "roles among"), (("", "flavour=umami"), "unknown control"),
                         (("", "lookahead=4", "commit=8"), "must not exceed"),
                         (("a tune in H minor",), "names no key"), (("a waltz at 400 bpm",), "outside 20-300"),
                         (("a tune in 5/4",), "not supported")):
        err = client.request("/midibridge/generate/start", 9, *args, reply="/midibridge/error")[-1].params
        assert err[0] == 9 and needle in err[1], err
    err = client.request("/midibridge/generate/set", 10, "key=A minor", reply="/midibridge/error")[-1].params
    assert "no stream playing" in err[1]
    assert client.request("/midibridge/ping", 11)[-1].params[1] == "pong"
    assert "Traceback" not in daemon.log()


def test_a_slow_machine_holds_the_harmony_and_never_shifts_the_grid(tmp_path, jack_server, monkeypatch):
    # Every bar takes 1.2 s to generate while a bar lasts 0.8 s (300 BPM): bars come late by construction.
    monkeypatch.setenv("MIDIBRIDGE_GENERATION_DELAY_MS", "1200")
    daemon = start_daemon(tmp_path, jack_server, "--no-web")
    recorder = Recorder(jack_server.name, "slowrec")
    recorder.connect_from("midibridge:out")
    client = OscClient(daemon.port)
    try:
        deadline = time.monotonic() + 30
        while client.status().get("jam") is None and time.monotonic() < deadline:
            time.sleep(0.1)
        client.request("/midibridge/generate/listen", 1, 1, reply="/midibridge/generate/state")
        client.request("/midibridge/generate/start", 2, "in C major", "tempo=300", "lookahead=2", "commit=1",
                       reply="/midibridge/generate/start", timeout=30)
        got = drain(client, 8.0)
        status = client.status()
        client.request("/midibridge/generate/stop", 3, reply="/midibridge/generate/stop")
        time.sleep(0.3)
    finally:
        client.close()
        recorder.close()
        daemon.stop()
    bars = [m.params for m in got if m.address == "/midibridge/generate/bar"]
    assert any(p[5] == 1 for p in bars), bars  # some bars were held
    assert status["jam_held_bars"] >= 1 and status["jam_late_bars"] >= 1
    # Held bars keep the grid: bar starts stay whole bars apart, every onset on the sixteenth grid.
    starts = [p[2] for p in bars]
    assert all(b - a == 4.0 for a, b in zip(starts, starts[1:])), starts
    ons = note_ons(recorder.events)
    sixteenth = frames_per_beat(300) / 4
    if status["xruns"] == 0 and recorder.xruns == 0:
        assert all(min((f - ons[0][0]) % sixteenth, sixteenth - (f - ons[0][0]) % sixteenth) <= 1 for f, _, _ in ons)
    _, sounding = notes_from(recorder.events)
    assert not sounding


def test_a_link_peers_tempo_change_moves_the_stream(jam):
    aalink = pytest.importorskip("aalink")
    import asyncio
    import threading

    daemon, recorder, _, client = jam
    peer_tempo = {"bpm": 100.0}
    stop = threading.Event()

    def peer() -> None:  # a second Link peer on loopback, in its own thread and loop
        async def run() -> None:
            link = aalink.Link(peer_tempo["bpm"])
            link.enabled = True
            while not stop.is_set():
                if abs(link.tempo - peer_tempo["bpm"]) > 1e-6:
                    link.tempo = peer_tempo["bpm"]
                await asyncio.sleep(0.02)
            link.enabled = False

        asyncio.run(run())

    thread = threading.Thread(target=peer, daemon=True)
    thread.start()
    try:
        time.sleep(1.0)
        client.request("/midibridge/clock/source", 1, "link", reply="/midibridge/tempo/get")
        deadline = time.monotonic() + 10
        while client.status().get("link_peers", 0) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        status = client.status()
        assert status["link_peers"] >= 1 and status["clock_source"] == "link"
        # Link joins at the session's tempo: the peer's 100 BPM (whoever was first), then follows its changes.
        client.request("/midibridge/generate/start", 2, "a tune in C major", "density=3",
                       reply="/midibridge/generate/start", timeout=20)
        peer_tempo["bpm"] = 150.0
        deadline = time.monotonic() + 10
        while abs(client.status()["tempo"] - 150.0) > 0.01 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert abs(client.status()["tempo"] - 150.0) < 0.01
        recorder.events.clear()
        time.sleep(4.0)
        ons = note_ons(recorder.events)
        assert len(ons) > 4
        # After the change every onset is on the 150 BPM sixteenth grid.
        sixteenth = frames_per_beat(150) / 4
        if client.status()["xruns"] == 0 and recorder.xruns == 0:
            errs = [min((f - ons[0][0]) % sixteenth, sixteenth - (f - ons[0][0]) % sixteenth) for f, _, _ in ons]
            assert max(errs) <= 2, errs
        client.request("/midibridge/generate/stop", 3, reply="/midibridge/generate/stop")
    finally:
        stop.set()
        thread.join(timeout=5)


def test_a_cc_starts_and_stops_a_stream_with_roles_on_their_own_ports_and_panic_silences_all(tmp_path, jack_server):
    daemon = start_daemon(tmp_path, jack_server, "--no-web", "--role-ports")
    melody = Recorder(jack_server.name, "melodyrec")
    out = Recorder(jack_server.name, "outrec")
    player = Player(jack_server.name, "ccplayer")
    client = OscClient(daemon.port)
    try:
        deadline = time.monotonic() + 30
        while client.status().get("jam") is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "midibridge:melody" in client.status()["ports"]
        melody.connect_from("midibridge:melody")
        out.connect_from("midibridge:out")
        player.connect_to("midibridge:in")
        player.play([(0.0, bytes([0xB0, 20, 127]))])  # CC 20 on: start
        deadline = time.monotonic() + 20
        while client.status()["jam"] != "playing" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.status()["jam"] == "playing"
        # A few bars, and at least one melody note (a loaded machine may commit the first bars late).
        started, deadline = time.monotonic(), time.monotonic() + 30
        while time.monotonic() < deadline and (time.monotonic() - started < 4.5 or not note_ons(melody.events)):
            time.sleep(0.1)
        player.play([(0.0, bytes([0xB0, 20, 0]))])  # CC 20 off: stop
        deadline = time.monotonic() + 10
        while client.status()["jam"] != "stopped" and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)
        mel = note_ons(melody.events)
        assert mel and {ch for _, ch, _ in mel} == {13}
        assert not {13} & {ch for _, ch, _ in note_ons(out.events)}  # melody left "out" for its own port
        for rec in (melody, out):
            assert not notes_from(rec.events)[1]
        got = client.request("/midibridge/panic", 2, 1, reply="/midibridge/panic")[-1].params
        assert got[0] == 2
        time.sleep(0.3)
        offs = {(d[0] & 0x0F) for _, d in out.events + melody.events
                if len(d) == 3 and d[0] & 0xF0 == 0xB0 and d[1] == 123}
        assert offs == set(range(16)) - {9, 11, 12}  # drums, chords, bass went out of their own ports
    finally:
        client.close()
        player.close()
        melody.close()
        out.close()
        daemon.stop()


def test_jack_transport_bbt_from_a_timebase_master_sets_the_streams_tempo_and_bars(jam, jack_server):
    import jack

    daemon, recorder, _, client = jam
    bpm = 90.0
    master = jack.Client("timebase", no_start_server=True, servername=jack_server.name)

    def timebase(state, blocksize, pos, new_pos):  # 4/4 at 90 BPM from transport frame 0
        beats = pos.frame / (master.samplerate * 60.0 / bpm)
        pos.bar = int(beats // 4) + 1
        pos.beat = int(beats % 4) + 1
        pos.tick = int((beats % 1) * 1920)
        pos.bar_start_tick = 0.0
        pos.beats_per_bar = 4.0
        pos.beat_type = 4.0
        pos.ticks_per_beat = 1920.0
        pos.beats_per_minute = bpm
        pos.valid = pos.valid | jack.POSITION_BBT

    master.set_timebase_callback(timebase)
    master.activate()
    try:
        master.transport_locate(0)
        master.transport_start()
        time.sleep(0.3)
        reply = client.request("/midibridge/clock/source", 1, "jack", reply="/midibridge/tempo/get")[-1].params
        assert reply[2] == "jack" and abs(reply[1] - 90.0) < 1e-6 and reply[4] == 1
        start = client.request("/midibridge/generate/start", 2, "a tune in F major", "bars=2", "density=3",
                               reply="/midibridge/generate/start", timeout=20)[-1].params
        assert start[4] == 90.0 and start[1] % 4 == 0
        time.sleep((start[1] - client.request("/midibridge/tempo/get", 3)[-1].params[3]) * 60 / bpm + 6.0)
        ons = note_ons(recorder.events)
        assert ons
        # The first note falls on the master's bar line: transport frame of bar start + frame offset.
        frames_per_bar = 4 * frames_per_beat(bpm)
        offset = (master.frame_time - master.transport_frame) % 2**32
        bar_phase = ((ons[0][0] - offset) % frames_per_bar)
        # On the master's bar line: within the follower's re-anchoring tolerance (1 ms = 48 frames: JACK's
        # frame-clock and transport-frame estimates are read one after the other); xruns shift JACK's
        # estimates, and then only the bar line itself (within a sixteenth) is checked.
        phase = min(bar_phase, frames_per_bar - bar_phase)
        xruns = client.status()["xruns"] + recorder.xruns
        assert phase <= (48 if xruns == 0 else frames_per_beat(bpm) / 4), (bar_phase, xruns)
        master.transport_stop()
        time.sleep(0.3)
        assert client.request("/midibridge/tempo/get", 4)[-1].params[4] == 0  # stopped with the transport
    finally:
        master.deactivate()
        master.close()


def test_harmonize_puts_chords_under_a_played_melody_one_bar_behind(jam):
    daemon, recorder, player, client = jam
    client.request("/midibridge/tempo/set", 1, 120.0, reply="/midibridge/tempo/get")
    client.request("/midibridge/generate/listen", 5, 1, reply="/midibridge/generate/state")
    client.request("/midibridge/generate/call/start", 2, "harmonize", 0, reply="/midibridge/generate/call/start")
    beat_now = client.request("/midibridge/tempo/get", 3)[-1].params[3]
    first_bar = (int(beat_now // 4) + 1) * 4
    lead_s = (first_bar - beat_now) * 0.5
    # Four bars of a G-major melody, eighth notes, starting on a bar line.
    scale = [67, 69, 71, 72, 74, 72, 71, 69, 67, 71, 74, 79, 78, 76, 74, 72]
    events = []
    for i in range(32):
        t = lead_s - 0.05 + i * 0.25
        p = scale[i % len(scale)]
        events += [(t, bytes([0x90, p, 90])), (t + 0.2, bytes([0x80, p, 0]))]
    player.play(events, lead=0.05)
    got = drain(client, lead_s + 4 * 2.0 + 1.5)
    bars = [m.params for m in got if m.address == "/midibridge/generate/bar"]
    assert len(bars) >= 2, (bars, daemon.log()[-2000:])
    # Accompaniment bar k starts on the bar line k of the melody, decided from bar k-1.
    assert all((p[2] - first_bar) % 4 == 0 and p[2] > first_bar for p in bars), bars
    ons = note_ons(recorder.events)
    chords = [p for _, ch, p in ons if ch in (11, 12)]
    assert chords and not [ch for _, ch, _ in ons if ch == 13]  # chords and bass only: the player has the melody
    assert in_key_share(chords, 7, "major") >= 0.8
    client.request("/midibridge/generate/call/stop", 4, reply="/midibridge/generate/call/stop")


def test_latency_compensation_moves_output_earlier_by_exactly_that_much(jam):
    daemon, recorder, _, client = jam
    clip = str(CHORALE)
    sixteenth = frames_per_beat(120) / 4

    def first_note_phase() -> float:
        recorder.events.clear()
        client.request("/midibridge/play/file", 10, clip, "bar", reply="/midibridge/play/file")
        deadline = time.monotonic() + 10
        while not note_ons(recorder.events, set(range(16))) and time.monotonic() < deadline:
            time.sleep(0.05)
        client.request("/midibridge/play/stop", 11, reply="/midibridge/play/stop")
        return note_ons(recorder.events, set(range(16)))[0][0] % sixteenth

    base = first_note_phase()
    client.request("/midibridge/latency/set", 12, 10.0, reply="/midibridge/latency/set")
    early = first_note_phase()
    client.request("/midibridge/latency/set", 13, 0.0, reply="/midibridge/latency/set")
    shift = (base - early) % sixteenth
    assert abs(shift - 480) <= 1, (base, early)  # 10 ms at 48 kHz


def test_stop_and_panic_on_start_send_all_notes_off(tmp_path, jack_server):
    recorder = Recorder(jack_server.name, "panicrec")
    daemon = start_daemon(tmp_path, jack_server, "--no-web", "--panic-on-start", "--connect-out", recorder.name)
    client = OscClient(daemon.port)
    try:
        time.sleep(0.3)
        cc = lambda num: {d[0] & 0x0F for _, d in recorder.events  # noqa: E731
                          if len(d) == 3 and d[0] & 0xF0 == 0xB0 and d[1] == num}
        assert cc(123) == set(range(16)) and cc(120) == set(range(16))  # at start, on every channel
        recorder.events.clear()
        client.request("/midibridge/play/file", 1, str(CHORALE), "now", reply="/midibridge/play/file")
        time.sleep(1.0)
        used = {ch for _, ch, _ in note_ons(recorder.events, set(range(16)))}
        client.request("/midibridge/play/stop", 2, reply="/midibridge/play/stop")
        time.sleep(0.3)
        assert used and cc(123) == used  # play/stop: All Notes Off on the channels it used
        assert not notes_from(recorder.events)[1]
    finally:
        client.close()
        daemon.stop()
        recorder.close()


def test_latency_compensation_per_port(tmp_path, jack_server):
    daemon = start_daemon(tmp_path, jack_server, "--no-web", "--role-ports")
    chords, melody = Recorder(jack_server.name, "latchords"), Recorder(jack_server.name, "latmelody")
    client = OscClient(daemon.port)
    try:
        deadline = time.monotonic() + 30
        while client.status().get("jam") is None and time.monotonic() < deadline:
            time.sleep(0.1)
        client.request("/midibridge/generate/start", 1, "in C major", "bars=1", reply="/midibridge/generate/start",
                       timeout=20)  # creates the role ports
        time.sleep(3.0)
        chords.connect_from("midibridge:chords")
        melody.connect_from("midibridge:melody")
        reply = client.request("/midibridge/latency/set", 2, 10.0, "melody", reply="/midibridge/latency/set")
        assert reply[-1].params == [2, 10.0, "melody"]
        client.request("/midibridge/generate/start", 3, "in C major", "bars=2", "density=3", "tempo=120",
                       reply="/midibridge/generate/start", timeout=20)
        time.sleep(6.0)
        c_ons, m_ons = note_ons(chords.events), note_ons(melody.events)
        assert c_ons and m_ons
        sixteenth = frames_per_beat(120) / 4
        shift = (c_ons[0][0] - m_ons[0][0]) % sixteenth
        if client.status()["xruns"] == 0 and chords.xruns == 0 and melody.xruns == 0:
            assert abs(shift - 480) <= 1, shift  # the melody's port 10 ms early, the chords' on the grid
        err = client.request("/midibridge/latency/set", 4, 5.0, "sitar", reply="/midibridge/error")[-1].params
        assert "port must be one of" in err[1]
    finally:
        client.close()
        chords.close()
        melody.close()
        daemon.stop()
