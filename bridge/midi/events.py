"""MIDI bytes and beat-timed events: a Piece becomes a sorted list of (beat, bytes)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bridge.music import Piece
from bridge.music.notes import DRUM_CHANNEL

NOTE_OFF = 0x80
NOTE_ON = 0x90
CONTROL = 0xB0
CLOCK = 0xF8
START = 0xFA
CONTINUE = 0xFB
STOP = 0xFC
SONG_POSITION = 0xF2
ALL_NOTES_OFF = 123
ALL_SOUND_OFF = 120


@dataclass(frozen=True, order=True)
class TimedEvent:
    beat: float  # quarter notes from the start of the clip
    order: int  # note-offs (0) sort before note-ons (1) at the same beat, so repeated notes retrigger
    data: bytes


def note_on(channel: int, pitch: int, velocity: int) -> bytes:
    return bytes((NOTE_ON | channel, pitch & 0x7F, max(1, min(127, velocity))))


def note_off(channel: int, pitch: int) -> bytes:
    return bytes((NOTE_OFF | channel, pitch & 0x7F, 0))


def is_note_on(data: bytes) -> bool:
    return len(data) == 3 and data[0] & 0xF0 == NOTE_ON and data[2] > 0


def is_note_off(data: bytes) -> bool:
    return len(data) == 3 and (data[0] & 0xF0 == NOTE_OFF or (data[0] & 0xF0 == NOTE_ON and data[2] == 0))


def channels_for(piece: Piece) -> np.ndarray:
    """One channel per track: drums on channel 10, others round-robin over the 15 melodic channels."""
    n = piece.notes
    melodic = [c for c in range(16) if c != DRUM_CHANNEL]
    ch = np.array([melodic[int(t) % len(melodic)] for t in n.track], dtype=np.int16)
    ch[n.is_drum] = DRUM_CHANNEL
    return ch


def piece_events(piece: Piece, transpose: int = 0) -> list[TimedEvent]:
    """Every note as a note-on and a note-off, sorted by beat (note-offs first at equal beats)."""
    n = piece.notes
    if len(n) == 0:
        return []
    ch = channels_for(piece)
    events: list[TimedEvent] = []
    for start, dur, pitch, vel, c in zip(n.start, n.duration, n.pitch, n.velocity, ch):
        p = int(pitch) + transpose
        if not 0 <= p <= 127:
            continue
        s = float(start)
        # A hair shorter than written, so a note-off never lands after the next note-on of the same pitch.
        e = s + max(float(dur) - 1e-6, 1e-4)
        events.append(TimedEvent(s, 1, note_on(int(c), p, int(vel))))
        events.append(TimedEvent(e, 0, note_off(int(c), p)))
    events.sort()
    return events
