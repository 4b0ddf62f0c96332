"""A burst of 4,096 events at once is paced over a few periods instead of being dropped by JACK."""

from __future__ import annotations

import time

import numpy as np
from daemon_harness import OscClient, Recorder, start_daemon, wait_for_events

from bridge.midi.ports import MAX_EVENTS_PER_PERIOD
from bridge.music import NoteList, Piece, save_midi


def test_burst_of_every_note_on_every_channel_arrives_paced(jack_server, tmp_path):
    # 15 melodic tracks (one channel each) and a drum track, all 128 pitches, all at beat 0.
    tracks = np.repeat(np.arange(16), 128)
    notes = NoteList.from_columns(np.zeros(2048), np.full(2048, 0.25), np.tile(np.arange(128), 16),
                                  np.full(2048, 64), np.zeros(2048), tracks == 15, tracks)
    save_midi(Piece(notes=notes, track_names=tuple(f"t{i}" for i in range(16))), tmp_path / "burst.mid")
    daemon = start_daemon(tmp_path, jack_server, "--client-name", "mbburst", "--play-dir", str(tmp_path))
    client = OscClient(daemon.port)
    recorder = Recorder(jack_server.name, "rec-burst")
    try:
        recorder.connect_from("mbburst:out")
        client.request("/midibridge/play/file", 1, str(tmp_path / "burst.mid"), "now")
        deadline = time.monotonic() + 20
        while client.status()["sent"] < 4096 and time.monotonic() < deadline:
            time.sleep(0.05)
        wait_for_events(recorder, 4096, 0.5)
        status = client.status()
        # The daemon wrote every event (a period lost in an xrun may still swallow up to a period's worth
        # on the way to the recorder, so the recording is checked exactly only without xruns).
        assert status["sent"] == 4096 and status["dropped"] == 0 and status["sounding"] == 0
        per_period = np.bincount([f // jack_server.period for f, _ in recorder.events])
        assert per_period.max() <= MAX_EVENTS_PER_PERIOD < 2500
        if status["xruns"] + recorder.xruns == 0:
            assert len(recorder.events) == 4096
            assert len({(d[0] & 0x0F, d[1]) for _, d in recorder.events if d[0] & 0xF0 == 0x90}) == 2048
    finally:
        recorder.close()
        client.close()
        daemon.stop()
