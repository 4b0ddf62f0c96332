"""The one component that decides when MIDI goes out.

Clips are kept in beats until shortly before they sound; every `feed_interval` the feeder converts
the events due within `lookahead` seconds to backend ticks through the beat clock and hands them to
the transport's writer. Keeping beats until the last moment lets tempo changes and MIDI clock
following apply to everything not yet committed.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from dataclasses import dataclass

from bridge.midi.clock import BeatClock
from bridge.midi.events import TimedEvent
from bridge.midi.ports import MidiIO

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scheduled:
    start_beat: float
    events: int
    notes: int


class Scheduler:
    def __init__(self, io: MidiIO, clock: BeatClock, lookahead: float = 0.1, feed_interval: float = 0.02) -> None:
        self.io = io
        self.clock = clock
        self.lookahead = lookahead
        self.feed_interval = feed_interval
        self._pending: list[tuple[float, int, int, bytes]] = []  # (beat, order, seq, data)
        self._seq = itertools.count()
        self.scheduled_total = 0

    @property
    def lookahead_ticks(self) -> int:
        return int(self.lookahead * self.io.rate)

    def play(self, events: list[TimedEvent], at: str = "bar") -> Scheduled:
        """Schedule a clip to start at the next bar/beat (or now) at least one lookahead from now."""
        now = self.io.now()
        # One lookahead plus one feed interval of lead, so the first event is never already late.
        lead = self.lookahead_ticks + int(self.feed_interval * 2 * self.io.rate)
        start = self.clock.next_boundary(now, at, lead)
        for e in events:
            heapq.heappush(self._pending, (start + e.beat, e.order, next(self._seq), e.data))
        self.scheduled_total += len(events)
        self.feed()
        notes = sum(1 for e in events if e.order == 1)
        return Scheduled(start, len(events), notes)

    def stop(self) -> int:
        """Cancel everything not yet sounded and release every sounding note."""
        n = len(self._pending)
        self._pending.clear()
        return n + self.io.cancel()

    @property
    def pending(self) -> int:
        return len(self._pending) + len(self.io.queue)

    def feed(self) -> int:
        pending = self._pending
        if not pending or not self.clock.state.running:
            return 0
        horizon = self.clock.beat_at(self.io.now() + self.lookahead_ticks)
        batch = []
        while pending and pending[0][0] <= horizon:
            beat, _, _, data = heapq.heappop(pending)
            batch.append((self.clock.tick_at(beat), data))
        if batch:
            self.io.submit(batch)
        return len(batch)

    async def run(self) -> None:
        while True:
            try:
                self.feed()
            except Exception:  # never let one bad event stop the feeder; count it via the log
                log.exception("scheduler feed failed")
            await asyncio.sleep(self.feed_interval)
