"""Beat clock, MIDI clock following, event building, note tracking and wrap-safe frame times."""

from __future__ import annotations

from bridge.midi.capture import PhraseCapture
from bridge.midi.clock import PPQ, BeatClock
from bridge.midi.events import CLOCK, CONTINUE, SONG_POSITION, START, STOP, is_note_off, is_note_on, piece_events
from bridge.midi.notes import NoteTracker
from bridge.midi.queue import EventQueue, unwrap32
from bridge.music import NoteList, Piece, load_midi

RATE = 48000


def test_internal_clock_maps_beats_to_frames_and_finds_the_next_bar():
    clock = BeatClock(RATE, now_tick=1000, bpm=120.0)
    assert clock.tick_at(1.0) == 1000 + 24000
    assert clock.beat_at(1000 + 48000) == 2.0
    assert clock.next_boundary(1000, "bar", lead_ticks=100) == 4.0
    assert clock.next_boundary(1000 + 24000 * 4 - 50, "bar", lead_ticks=100) == 8.0  # too close: next one
    assert clock.next_boundary(1000 + 12000, "beat", lead_ticks=0) == 1.0
    clock.set_tempo(60.0, 1000 + 48000)  # beat 2 at the change
    assert clock.beat_at(1000 + 48000 + 48000) == 3.0


def test_midi_clock_follower_measures_tempo_and_position():
    clock = BeatClock(RATE, now_tick=0, bpm=120.0)
    clock.set_source("midi", 0)
    per_pulse = RATE * 60 / (125.0 * PPQ)  # 960 frames at 125 BPM
    t = 10_000
    clock.midi_input(t, bytes([START]))
    for i in range(PPQ * 2):
        clock.midi_input(t + round(i * per_pulse), bytes([CLOCK]))
    assert abs(clock.bpm - 125.0) < 0.01
    assert abs(clock.beat_at(t + round(PPQ * 2 * per_pulse)) - 2.0) < 1e-3
    clock.midi_input(t + 200_000, bytes([STOP]))
    assert not clock.state.running
    clock.midi_input(t + 200_100, bytes([SONG_POSITION, 16, 0]))  # 16 sixteenths = beat 4
    assert clock.state.anchor_beat == 4.0
    clock.midi_input(t + 200_200, bytes([CONTINUE]))
    clock.midi_input(t + 200_300, bytes([CLOCK]))
    assert clock.state.running and clock.beat_at(t + 200_300) == 4.0
    # Clock messages are ignored while the source is internal.
    clock.set_source("internal", t + 300_000)
    assert not clock.midi_input(t + 300_001, bytes([START]))


def test_piece_events_pair_every_note_and_order_offs_before_ons(chorale_path):
    piece = load_midi(chorale_path)
    events = piece_events(piece)
    assert sum(map(lambda e: is_note_on(e.data), events)) == len(piece.notes)
    assert sum(map(lambda e: is_note_off(e.data), events)) == len(piece.notes)
    assert [e.beat for e in events] == sorted(e.beat for e in events)
    tracker = NoteTracker()
    for e in events:
        tracker.track(e.data)
    assert len(tracker) == 0
    # A repeated note: the first note-off comes before the second note-on.
    rep = piece_events(Piece(notes=NoteList.from_tuples([(0, 1, 60), (1, 1, 60)])))
    assert [(is_note_on(e.data), e.data[1]) for e in rep] == [(True, 60), (False, 60), (True, 60), (False, 60)]


def test_tracker_releases_what_is_open():
    tracker = NoteTracker()
    for data in (bytes([0x90, 60, 100]), bytes([0x91, 64, 100]), bytes([0x90, 67, 100]), bytes([0x80, 67, 0])):
        tracker.track(data)
    assert sorted(tracker.release_all()) == sorted([bytes([0x80, 60, 0]), bytes([0x81, 64, 0])])
    assert len(tracker) == 0


def test_frame_times_are_wrap_safe():
    assert unwrap32(5, 2**32 - 10) == 2**32 + 5
    assert unwrap32(2**32 - 10, 2**32 + 5) == 2**32 - 10
    assert unwrap32(100, 50) == 100
    q = EventQueue()
    q.push(unwrap32(3, 2**32 - 1), b"late")
    q.push(2**32 - 2, b"early")
    assert [d for _, _, d in sorted(q.heap)] == [b"early", b"late"]


def test_phrase_capture_ends_after_silence():
    cap = PhraseCapture(RATE, bpm=lambda: 120.0, silence_beats=2.0)
    beat = RATE // 2
    for i, p in enumerate([60, 64, 67]):
        cap.feed(1000 + i * beat, bytes([0x90, p, 90]))
        cap.feed(1000 + i * beat + beat // 2, bytes([0x80, p, 0]))
    last = 1000 + 2 * beat + beat // 2
    assert cap.poll(last + beat) is None  # one beat of silence
    piece = cap.poll(last + 2 * beat + 1)
    assert piece is not None and [int(p) for p in piece.notes.pitch] == [60, 64, 67]
    assert list(piece.notes.start) == [0.0, 1.0, 2.0] and list(piece.notes.duration) == [0.5, 0.5, 0.5]
    assert not cap.active
    # A held note holds the phrase open; finish() ends it at once.
    cap.feed(0, bytes([0x90, 50, 90]))
    assert cap.poll(10 * RATE) is None
    assert len(cap.finish(10 * RATE).notes) == 1
