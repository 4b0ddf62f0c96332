"""Query by playing: notes arriving on the in port become a phrase, ended by silence or on request."""

from __future__ import annotations

from collections.abc import Callable

from bridge.midi.events import NOTE_OFF, NOTE_ON
from bridge.music import NoteList, Piece, TempoChange


class PhraseCapture:
    """Collects notes in beats (at the tempo when the phrase began) until `silence_beats` pass."""

    def __init__(self, rate: float, bpm: Callable[[], float], silence_beats: float = 2.0,
                 max_notes: int = 4096) -> None:
        self.rate = rate
        self.bpm = bpm
        self.silence_beats = silence_beats
        self.max_notes = max_notes
        self._reset()

    def _reset(self) -> None:
        self.start_tick: int | None = None
        self.last_tick = 0
        self.tempo = 120.0
        self.open: dict[int, tuple[float, int]] = {}  # key -> (start beat, velocity)
        self.notes: list[tuple[float, float, int, int]] = []

    @property
    def active(self) -> bool:
        return self.start_tick is not None

    def _beat(self, tick: int) -> float:
        return (tick - (self.start_tick or 0)) / self.rate * self.tempo / 60.0

    def feed(self, tick: int, data: bytes) -> None:
        if len(data) != 3 or data[0] & 0xF0 not in (NOTE_ON, NOTE_OFF):
            return
        key = ((data[0] & 0x0F) << 7) | data[1]
        on = data[0] & 0xF0 == NOTE_ON and data[2] > 0
        if on and self.start_tick is None:
            self.start_tick = tick
            self.tempo = self.bpm()
        if self.start_tick is None:
            return
        self.last_tick = max(self.last_tick, tick)
        if on:
            if key in self.open:  # retrigger without a note-off: end the old one here
                self._close_note(key, tick)
            self.open[key] = (self._beat(tick), data[2])
        elif key in self.open:
            self._close_note(key, tick)

    def _close_note(self, key: int, tick: int) -> None:
        start, velocity = self.open.pop(key)
        if len(self.notes) < self.max_notes:
            self.notes.append((start, max(self._beat(tick) - start, 1.0 / 32), key & 0x7F, velocity))

    def silent_for(self, now_tick: int) -> float:
        """Beats since the last event, at the phrase's tempo."""
        return (now_tick - self.last_tick) / self.rate * self.tempo / 60.0

    def poll(self, now_tick: int) -> Piece | None:
        """The finished phrase once `silence_beats` passed with no key held; else None."""
        if self.start_tick is None or self.open or not self.notes:
            return None
        if self.silent_for(now_tick) < self.silence_beats:
            return None
        return self.finish(now_tick)

    def finish(self, now_tick: int) -> Piece | None:
        """End the phrase now (held notes end here). None when nothing was played."""
        for key in list(self.open):
            self._close_note(key, max(now_tick, self.last_tick))
        notes, tempo = self.notes, self.tempo
        self._reset()
        if not notes:
            return None
        return Piece(notes=NoteList.from_tuples(notes), tempos=(TempoChange(0.0, tempo),))
