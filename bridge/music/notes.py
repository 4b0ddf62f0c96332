"""Notes as parallel numpy arrays, timed in quarter notes.

Quarter-note time keeps bar and beat math exact and independent of tempo; seconds come
from the tempo map only where a human-facing duration is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

DRUM_CHANNEL = 9  # MIDI channel 10, zero-based


@dataclass(frozen=True)
class TempoChange:
    time: float  # quarters
    bpm: float  # quarter notes per minute


@dataclass(frozen=True)
class TimeSignature:
    time: float  # quarters
    numerator: int
    denominator: int

    @property
    def bar_quarters(self) -> float:
        return self.numerator * 4.0 / self.denominator

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"


@dataclass(frozen=True)
class KeySignature:
    time: float  # quarters
    sharps: int  # negative for flats
    minor: bool


@dataclass(frozen=True)
class NoteList:
    """All notes of a piece; index i across the arrays is one note."""

    start: np.ndarray  # float64, quarters
    duration: np.ndarray  # float64, quarters
    pitch: np.ndarray  # int16, MIDI 0..127
    velocity: np.ndarray  # int16, 1..127
    program: np.ndarray  # int16, GM program 0..127
    is_drum: np.ndarray  # bool
    track: np.ndarray  # int16, index into Piece.track_names

    @staticmethod
    def empty() -> NoteList:
        return NoteList.from_columns([], [], [], [], [], [], [])

    @staticmethod
    def from_columns(start, duration, pitch, velocity, program, is_drum, track) -> NoteList:
        notes = NoteList(
            start=np.asarray(start, dtype=np.float64),
            duration=np.asarray(duration, dtype=np.float64),
            pitch=np.asarray(pitch, dtype=np.int16),
            velocity=np.asarray(velocity, dtype=np.int16),
            program=np.asarray(program, dtype=np.int16),
            is_drum=np.asarray(is_drum, dtype=bool),
            track=np.asarray(track, dtype=np.int16),
        )
        return notes.sorted()

    @staticmethod
    def from_tuples(notes, program: int = 0, is_drum: bool = False, track: int = 0) -> NoteList:
        """Build from (start, duration, pitch[, velocity]) tuples: handy for tests and examples."""
        rows = [tuple(n) + (80,) * (4 - len(n)) for n in notes]
        n = len(rows)
        cols = list(zip(*rows)) if rows else [[], [], [], []]
        return NoteList.from_columns(cols[0], cols[1], cols[2], cols[3], [program] * n, [is_drum] * n, [track] * n)

    def __len__(self) -> int:
        return int(self.pitch.shape[0])

    @property
    def end(self) -> np.ndarray:
        return self.start + self.duration

    def sorted(self) -> NoteList:
        order = np.lexsort((self.pitch, self.start))
        return self.take(order)

    def take(self, index) -> NoteList:
        return NoteList(
            start=self.start[index],
            duration=self.duration[index],
            pitch=self.pitch[index],
            velocity=self.velocity[index],
            program=self.program[index],
            is_drum=self.is_drum[index],
            track=self.track[index],
        )

    def pitched(self) -> NoteList:
        """Notes with a pitch class: drums are excluded from harmony and key analysis."""
        return self.take(~self.is_drum)

    def concat(self, other: NoteList) -> NoteList:
        return NoteList.from_columns(
            *(np.concatenate([getattr(self, f), getattr(other, f)]) for f in _COLUMNS)
        )

    def with_(self, **columns) -> NoteList:
        return replace(self, **columns)


_COLUMNS = ("start", "duration", "pitch", "velocity", "program", "is_drum", "track")


@dataclass(frozen=True)
class Piece:
    """A parsed MIDI file: notes plus the tempo, meter and key maps, all in quarters."""

    notes: NoteList
    tempos: tuple[TempoChange, ...] = (TempoChange(0.0, 120.0),)
    time_signatures: tuple[TimeSignature, ...] = (TimeSignature(0.0, 4, 4),)
    key_signatures: tuple[KeySignature, ...] = ()
    track_names: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def end(self) -> float:
        """End of the last sounding note, in quarters."""
        return float(self.notes.end.max()) if len(self.notes) else 0.0

    def tempo_at(self, time: float) -> float:
        bpm = self.tempos[0].bpm if self.tempos else 120.0
        for t in self.tempos:
            if t.time <= time + 1e-9:
                bpm = t.bpm
        return bpm

    def time_signature_at(self, time: float) -> TimeSignature:
        current = self.time_signatures[0] if self.time_signatures else TimeSignature(0.0, 4, 4)
        for ts in self.time_signatures:
            if ts.time <= time + 1e-9:
                current = ts
        return current

    def bar_starts(self, until: float | None = None) -> np.ndarray:
        """Start of every bar (quarters) up to `until` (default: the end of the piece)."""
        until = self.end if until is None else until
        signatures = list(self.time_signatures) or [TimeSignature(0.0, 4, 4)]
        starts: list[float] = []
        t = 0.0
        i = 0
        current = signatures[0] if signatures[0].time <= 0 else TimeSignature(0.0, 4, 4)
        while t < until - 1e-9 or not starts:
            while i < len(signatures) and signatures[i].time <= t + 1e-9:
                current = signatures[i]
                i += 1
            starts.append(t)
            step = current.bar_quarters
            # A meter change in the middle of a bar starts a new bar there (pickups, odd edits).
            nxt = signatures[i].time if i < len(signatures) else None
            t = nxt if nxt is not None and t < nxt < t + step - 1e-9 else t + step
            if len(starts) > 1_000_000:
                break
        return np.asarray(starts, dtype=np.float64)

    def seconds_at(self, time: float | np.ndarray) -> np.ndarray:
        """Convert quarter positions to seconds through the tempo map."""
        time = np.asarray(time, dtype=np.float64)
        tempos = sorted(self.tempos, key=lambda t: t.time) or [TempoChange(0.0, 120.0)]
        times = np.array([0.0] + [t.time for t in tempos[1:]])
        spq = np.array([60.0 / t.bpm for t in tempos])  # seconds per quarter
        seg_seconds = np.concatenate([[0.0], np.cumsum(np.diff(times) * spq[:-1])])
        idx = np.clip(np.searchsorted(times, time, side="right") - 1, 0, len(times) - 1)
        return seg_seconds[idx] + (time - times[idx]) * spq[idx]

    @property
    def duration_seconds(self) -> float:
        return float(self.seconds_at(self.end))

    def without_key_signatures(self) -> Piece:
        return replace(self, key_signatures=())

    def with_notes(self, notes: NoteList) -> Piece:
        return replace(self, notes=notes)

    def window(self, start: float, stop: float) -> Piece:
        """The notes starting in [start, stop), shifted to 0 and cut at `stop`; maps carried over."""
        n = self.notes
        keep = (n.start >= start - 1e-9) & (n.start < stop - 1e-9)
        part = n.take(keep)
        part = part.with_(start=part.start - start, duration=np.minimum(part.duration, stop - part.start))

        def shift(events, cls):
            before = [e for e in events if e.time <= start + 1e-9]
            inside = [e for e in events if start + 1e-9 < e.time < stop - 1e-9]
            kept = ([before[-1]] if before else []) + inside
            return tuple(replace(e, time=max(0.0, e.time - start)) for e in kept)

        return replace(
            self,
            notes=part,
            tempos=shift(self.tempos, TempoChange) or (TempoChange(0.0, self.tempo_at(start)),),
            time_signatures=shift(self.time_signatures, TimeSignature),
            key_signatures=shift(self.key_signatures, KeySignature),
        )
