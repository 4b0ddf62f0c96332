"""The beat clock: beats <-> backend ticks, from the internal tempo or following incoming MIDI clock.

The state is one immutable `ClockState` swapped atomically, so the real-time side never sees a torn
update and readers need no lock.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace

from bridge.midi.events import CLOCK, CONTINUE, SONG_POSITION, START, STOP

PPQ = 24  # MIDI clock pulses per quarter note


@dataclass(frozen=True)
class ClockState:
    anchor_tick: int  # backend ticks (JACK frames, or microseconds) at anchor_beat
    anchor_beat: float
    bpm: float
    running: bool
    source: str  # "internal" | "midi" | "host" (tempo and position over OSC, e.g. from Live) | "link"
    beats_per_bar: float = 4.0


class BeatClock:
    """Maps beats to ticks of one backend (`rate` ticks per second)."""

    def __init__(self, rate: float, now_tick: int, bpm: float = 120.0, beats_per_bar: float = 4.0) -> None:
        self.rate = float(rate)
        self.state = ClockState(now_tick, 0.0, bpm, True, "internal", beats_per_bar)
        self._follower = MidiClockFollower(self)

    @property
    def bpm(self) -> float:
        return self.state.bpm

    @property
    def source(self) -> str:
        return self.state.source

    def beat_at(self, tick: int) -> float:
        s = self.state
        if not s.running:
            return s.anchor_beat
        return s.anchor_beat + (tick - s.anchor_tick) * s.bpm / (60.0 * self.rate)

    def tick_at(self, beat: float) -> int:
        s = self.state
        return s.anchor_tick + int(round((beat - s.anchor_beat) * 60.0 * self.rate / s.bpm))

    def next_boundary(self, now_tick: int, at: str, lead_ticks: int) -> float:
        """The first bar/beat start at least `lead_ticks` from now (room for the scheduler's lookahead)."""
        earliest = self.beat_at(now_tick + lead_ticks)
        if at == "now":
            return earliest
        unit = self.state.beats_per_bar if at == "bar" else 1.0
        return math.ceil(earliest / unit - 1e-9) * unit

    def set_tempo(self, bpm: float, now_tick: int) -> None:
        s = self.state
        self.state = replace(s, anchor_tick=now_tick, anchor_beat=self.beat_at(now_tick), bpm=float(bpm))

    def set_source(self, source: str, now_tick: int) -> None:
        s = self.state
        self.state = replace(s, anchor_tick=now_tick, anchor_beat=self.beat_at(now_tick), source=source)
        self._follower.reset()

    def start(self, now_tick: int, beat: float = 0.0) -> None:
        self.state = replace(self.state, anchor_tick=now_tick, anchor_beat=beat, running=True)

    def stop(self, now_tick: int) -> None:
        s = self.state
        self.state = replace(s, anchor_tick=now_tick, anchor_beat=self.beat_at(now_tick), running=False)

    def set_meter(self, beats_per_bar: float, now_tick: int) -> None:
        s = self.state
        self.state = replace(s, anchor_tick=now_tick, anchor_beat=self.beat_at(now_tick),
                             beats_per_bar=float(beats_per_bar))

    def sync(self, bpm: float, beat: float, now_tick: int, beats_per_bar: float | None = None,
             tolerance_s: float = 0.003, source: str = "host") -> float:
        """Follow a host's transport: its tempo and its beat position now. Returns the correction in seconds.

        Host messages arrive with network jitter; a position within `tolerance_s` of where the clock already
        is only updates the tempo (re-anchoring at the clock's own position), so jitter never moves the grid.
        """
        s = self.state
        own = self.beat_at(now_tick)
        error_s = (beat - own) * 60.0 / max(bpm, 1e-6)
        anchor_beat = beat if abs(error_s) > tolerance_s or not s.running else own
        self.state = replace(s, anchor_tick=now_tick, anchor_beat=float(anchor_beat), bpm=float(bpm),
                             running=True, source=source,
                             beats_per_bar=float(beats_per_bar) if beats_per_bar else s.beats_per_bar)
        return error_s if anchor_beat == beat else 0.0

    def midi_input(self, tick: int, data: bytes) -> bool:
        """Feed one incoming message; returns True when it was a clock/transport message."""
        if self.state.source != "midi" or not data or data[0] not in _CLOCK_MESSAGES:
            return False
        self._follower.feed(tick, data)
        return True

    def as_dict(self, now_tick: int) -> dict:
        s = self.state
        return {"bpm": round(s.bpm, 3), "source": s.source, "beat": round(self.beat_at(now_tick), 4),
                "running": s.running, "beats_per_bar": s.beats_per_bar}


_CLOCK_MESSAGES = frozenset((CLOCK, START, STOP, CONTINUE, SONG_POSITION))


class MidiClockFollower:
    """Derives tempo and position from 0xF8 pulses with their arrival ticks (frame-exact on JACK)."""

    def __init__(self, clock: BeatClock, window: int = PPQ) -> None:
        self.clock = clock
        self.window = window
        self.reset()

    def reset(self) -> None:
        self.pulses = 0  # pulses since song position 0
        self.arrivals: deque[int] = deque(maxlen=self.window + 1)
        self.running = False

    def feed(self, tick: int, data: bytes) -> None:
        status = data[0]
        clock = self.clock
        if status == START:
            self.pulses = 0
            self.arrivals.clear()
            self.running = True
            # The first pulse after Start is beat 0; until it arrives, hold at 0.
            clock.state = replace(clock.state, anchor_tick=tick, anchor_beat=0.0, running=False)
        elif status == CONTINUE:
            self.running = True
            self.arrivals.clear()
        elif status == STOP:
            self.running = False
            clock.state = replace(clock.state, anchor_tick=tick, anchor_beat=self.pulses / PPQ, running=False)
        elif status == SONG_POSITION and len(data) >= 3:
            sixteenths = (data[1] & 0x7F) | ((data[2] & 0x7F) << 7)
            self.pulses = sixteenths * (PPQ // 4)
            self.arrivals.clear()
            clock.state = replace(clock.state, anchor_tick=tick, anchor_beat=self.pulses / PPQ)
        elif status == CLOCK:
            if not self.running:
                return
            self.arrivals.append(tick)
            bpm = clock.state.bpm
            if len(self.arrivals) >= 2:
                span = self.arrivals[-1] - self.arrivals[0]
                if span > 0:
                    # Average over up to one beat of pulses: settles within a beat after a change.
                    bpm = 60.0 * clock.rate * (len(self.arrivals) - 1) / (span * PPQ)
            clock.state = replace(clock.state, anchor_tick=tick, anchor_beat=self.pulses / PPQ,
                                  bpm=min(max(bpm, 5.0), 999.0), running=True)
            self.pulses += 1
