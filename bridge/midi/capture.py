"""Query by playing: notes arriving on the in port become a phrase, ended by silence or on request.

The phrase keeps its own time: its tempo and beat come from its notes (bridge.analysis.beat), never from
the daemon's clock, so a melody played at 70 BPM while the clock says 120 is stored at 70 BPM with its
notes on their own beats. The silence that ends a phrase is measured in those beats too.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bridge.analysis.beat import BeatEstimate, estimate_beat, note_weights, phrase_quarters
from bridge.midi.events import NOTE_OFF, NOTE_ON
from bridge.music import NoteList, Piece, TempoChange

# Besides `silence_beats` after the last note ends, a phrase stays open until more time has passed since
# the last note began than between any two note starts so far (a held note or a rest inside the melody
# is not its end), up to this many times `silence_beats`.
LONGEST_GAP_CAP = 2.0
# One bar of 4/4 in the phrase's own beats. Two were too few: a melody with sixteenths is heard at twice its
# written tempo, and the rest between its four-bar phrases (a beat and a half as written) is then three beats.
DEFAULT_SILENCE_BEATS = 4.0
MIN_NOTE_BEATS = 1.0 / 32


class PhraseCapture:
    """Collects notes (in audio frames) until the phrase falls silent, then returns it as a Piece in its
    own beats. `bpm()` (the clock) is only the fallback for phrases too short to have a tempo."""

    def __init__(self, rate: float, bpm: Callable[[], float], silence_beats: float = DEFAULT_SILENCE_BEATS,
                 max_notes: int = 4096) -> None:
        self.rate = rate
        self.bpm = bpm
        self.silence_beats = silence_beats
        self.max_notes = max_notes
        self.last_beat: BeatEstimate | None = None  # the beat of the last finished phrase
        self._reset()

    def _reset(self) -> None:
        self.start_tick: int | None = None
        self.last_tick = 0
        self.last_onset = 0
        self.longest_ioi = 0  # frames between consecutive note starts, the longest so far
        self.fallback_bpm = 120.0
        self.open: dict[int, tuple[int, int]] = {}  # key -> (start frame, velocity)
        self.notes: list[tuple[int, int, int, int]] = []  # (start frame, end frame, pitch, velocity)
        self._running: tuple[int, BeatEstimate] | None = None  # (onsets seen, estimate) for poll()

    @property
    def active(self) -> bool:
        return self.start_tick is not None

    def feed(self, tick: int, data: bytes) -> None:
        if len(data) != 3 or data[0] & 0xF0 not in (NOTE_ON, NOTE_OFF):
            return
        key = ((data[0] & 0x0F) << 7) | data[1]
        on = data[0] & 0xF0 == NOTE_ON and data[2] > 0
        if on and self.start_tick is None:
            self.start_tick = tick
            self.last_onset = tick
            self.fallback_bpm = float(self.bpm())
        if self.start_tick is None:
            return
        self.last_tick = max(self.last_tick, tick)
        if on:
            if key in self.open:  # retrigger without a note-off: end the old one here
                self._close_note(key, tick)
            self.longest_ioi = max(self.longest_ioi, tick - self.last_onset)
            self.last_onset = max(self.last_onset, tick)
            self.open[key] = (tick, data[2])
        elif key in self.open:
            self._close_note(key, tick)

    def _close_note(self, key: int, tick: int) -> None:
        start, velocity = self.open.pop(key)
        if len(self.notes) < self.max_notes:
            self.notes.append((start, max(tick, start), key & 0x7F, velocity))

    def beat(self) -> BeatEstimate:
        """The beat heard so far in the phrase (the clock's tempo until there are enough notes)."""
        starts = [n[0] for n in self.notes] + [s for s, _ in self.open.values()]
        if self._running is not None and self._running[0] == len(starts):
            return self._running[1]
        ends = [n[1] for n in self.notes] + [self.last_tick] * len(self.open)
        vel = [n[3] for n in self.notes] + [v for _, v in self.open.values()]
        est = self._estimate(np.array(starts), np.array(ends), np.array(vel))
        self._running = (len(starts), est)
        return est

    def _estimate(self, starts: np.ndarray, ends: np.ndarray, velocities: np.ndarray) -> BeatEstimate:
        origin = self.start_tick or 0
        onsets = (starts - origin) / self.rate
        durations = (ends - starts) / self.rate
        weights = note_weights(durations, velocities) if len(onsets) else None
        return estimate_beat(onsets, weights, default_bpm=min(max(self.fallback_bpm, 40.0), 240.0))

    def silent_for(self, now_tick: int) -> float:
        """Beats since the last event, in the phrase's own beats."""
        return (now_tick - self.last_tick) / self.rate / self.beat().period

    def _ended(self, now_tick: int) -> bool:
        # Cheap checks first: the beat is estimated only once the shortest possible silence has passed.
        seconds = (now_tick - self.last_tick) / self.rate
        if seconds < self.silence_beats * 60.0 / 240.0:
            return False
        period = self.beat().period
        if seconds < self.silence_beats * period:
            return False
        since_onset = (now_tick - self.last_onset) / self.rate
        return since_onset > min(self.longest_ioi / self.rate, LONGEST_GAP_CAP * self.silence_beats * period)

    def poll(self, now_tick: int) -> Piece | None:
        """The finished phrase once it fell silent with no key held; else None."""
        if self.start_tick is None or self.open or not self.notes:
            return None
        if not self._ended(now_tick):
            return None
        return self.finish(now_tick)

    def finish(self, now_tick: int) -> Piece | None:
        """End the phrase now (held notes end here). None when nothing was played."""
        for key in list(self.open):
            self._close_note(key, max(now_tick, self.last_tick))
        notes = sorted(self.notes)
        origin = self.start_tick or 0
        beat = None
        if notes:
            a = np.array(notes, dtype=np.int64)
            beat = self._estimate(a[:, 0], a[:, 1], a[:, 3])
        self._reset()
        if beat is None:
            return None
        self.last_beat = beat
        onsets = (a[:, 0] - origin) / self.rate
        start, duration = phrase_quarters(onsets, (a[:, 1] - a[:, 0]) / self.rate, beat)
        duration = np.maximum(duration, MIN_NOTE_BEATS)
        rows = [(float(s), float(d), int(p), int(v)) for s, d, p, v in zip(start, duration, a[:, 2], a[:, 3])]
        return Piece(notes=NoteList.from_tuples(rows), tempos=(TempoChange(0.0, round(beat.bpm, 3)),))
