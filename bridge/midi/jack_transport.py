"""Follow JACK transport: start/stop, and tempo and bar/beat (BBT) from the JACK timebase master (Ardour,
a JACK-aware DAW, or any client that registers a timebase callback).

While the clock source is "jack", a task reads the transport every `interval`. The BBT position JACK reports
belongs to a transport frame; the transport frame and the frame clock are read together to place it on the
frame clock, so the beat is anchored to the exact frame (not to the moment of the read). The beat clock is
re-anchored only when it is more than a millisecond off (`BeatClock.sync`), so the grid holds in between.
Without a timebase master (no BBT), the daemon keeps its own tempo and follows transport start, stop and
relocation.
"""

from __future__ import annotations

import asyncio
import logging

from bridge.midi.clock import BeatClock
from bridge.midi.queue import unwrap32

log = logging.getLogger(__name__)


class JackTransportUnavailable(RuntimeError):
    pass


def bbt_quarters(pos: dict) -> tuple[float, float, float] | None:
    """(beat position in quarter notes, tempo in quarter notes per minute, bar length in quarters) from a JACK
    position dict with BBT, or None without it. JACK counts bars and beats from 1, in beats of `beat_type`."""
    if "bar" not in pos or "beats_per_minute" not in pos:
        return None
    per_beat = 4.0 / float(pos.get("beat_type") or 4.0)
    beats = (int(pos["bar"]) - 1) * float(pos["beats_per_bar"]) + (int(pos["beat"]) - 1) \
        + float(pos.get("tick", 0)) / float(pos.get("ticks_per_beat") or 1920.0)
    return beats * per_beat, float(pos["beats_per_minute"]) * per_beat, float(pos["beats_per_bar"]) * per_beat


class JackTransportFollower:
    def __init__(self, io, clock: BeatClock, interval: float = 0.02) -> None:
        client = getattr(io, "_client", None)
        if io.backend != "jack" or client is None:
            raise JackTransportUnavailable("JACK transport needs the JACK MIDI backend (serve --midi-api jack)")
        self.io = io
        self.client = client
        self.clock = clock
        self.interval = interval
        self._task: asyncio.Task | None = None
        self.rolling = False

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    def follow_once(self) -> None:
        import jack

        # Read the frame clock and the transport frame together: their difference places any transport frame.
        now = unwrap32(self.client.frame_time, self.io._t0)
        offset = now - self.client.transport_frame
        state, pos = self.client.transport_query()
        rolling = state == jack.ROLLING
        tick = int(pos.get("frame", 0)) + offset
        bbt = bbt_quarters(pos)
        clock = self.clock
        if bbt is not None:
            beat, bpm, bar = bbt
        else:
            bpm, bar = clock.bpm, clock.state.beats_per_bar
            beat = pos.get("frame", 0) / self.io.rate * bpm / 60.0
        if rolling:
            clock.sync(bpm, beat, tick, beats_per_bar=bar, tolerance_s=0.001, source="jack")
        elif self.rolling or clock.state.running:
            clock.sync(bpm, beat, tick, beats_per_bar=bar, tolerance_s=0.0, source="jack")
            clock.stop(now)
        self.rolling = rolling

    async def _run(self) -> None:
        while True:
            try:
                self.follow_once()
            except Exception:
                log.exception("JACK transport follow failed")
            await asyncio.sleep(self.interval)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()

    @property
    def peers(self) -> int:  # the engine's status reads followers alike
        return -1
