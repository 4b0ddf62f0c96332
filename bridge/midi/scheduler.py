"""The one component that decides when MIDI goes out.

Events are kept in beats until shortly before they sound; every `feed_interval` the feeder converts
the events due within `lookahead` seconds to backend ticks through the beat clock and hands them to
the transport's writer. Keeping beats until the last moment lets tempo changes, MIDI clock and host
sync apply to everything not yet committed.

Everything that plays is a `Stream`: a clip is a one-shot stream (`play`), a generated jam is a long one
that its producer appends bars to (`open_stream`). A stream can be cancelled on its own: its pending
events are dropped and the notes it started (and only those) get their note-offs, so stopping a jam
never cuts off a hit that plays beside it, and the other way round.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from bridge.midi.clock import BeatClock
from bridge.midi.events import NOTE_OFF, TimedEvent, is_note_off, is_note_on
from bridge.midi.ports import MidiIO

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scheduled:
    start_beat: float
    events: int
    notes: int


class Stream:
    """Events of one owner. `append` adds events at absolute beats; `cancel` ends it with its note-offs.

    `on_low_water(stream)` is called by the feeder when fewer than `low_water_beats` of events remain queued
    ahead of the playhead, so a producer can top it up without polling.
    """

    def __init__(self, scheduler: Scheduler, name: str, on_low_water: Callable[[Stream], None] | None = None,
                 low_water_beats: float = 0.0) -> None:
        self.scheduler = scheduler
        self.name = name
        self.id = next(scheduler._stream_ids)
        self.on_low_water = on_low_water
        self.low_water_beats = low_water_beats
        self.pending = 0  # events held in beats, not yet submitted to the writer
        self.end_beat = float("-inf")  # the latest beat appended so far
        self.open: dict[tuple[int, int], tuple[int, int]] = {}  # (status channel, pitch) -> (holds, last tick)
        self.cancelled = False
        self.events = 0
        self.notes = 0

    def append(self, events: list[TimedEvent], at_beat: float) -> int:
        """Queue `events` (beats relative to `at_beat`); returns how many were queued."""
        if self.cancelled:
            return 0
        return self.scheduler._push(self, events, at_beat)

    def cancel(self) -> int:
        """Drop what has not been submitted and release the notes this stream started."""
        return self.scheduler._cancel(self)

    def queued_beats(self, playhead: float) -> float:
        return max(0.0, self.end_beat - playhead)

    def _submitted(self, tick: int, data: bytes) -> None:
        if is_note_on(data):
            key = (data[0] & 0x0F, data[1])
            holds, _ = self.open.get(key, (0, tick))
            self.open[key] = (holds + 1, tick)
        elif is_note_off(data):
            key = (data[0] & 0x0F, data[1])
            holds, last = self.open.get(key, (0, tick))
            if holds > 1:
                self.open[key] = (holds - 1, last)
            else:
                self.open.pop(key, None)


class Scheduler:
    def __init__(self, io: MidiIO, clock: BeatClock, lookahead: float = 0.1, feed_interval: float = 0.02) -> None:
        self.io = io
        self.clock = clock
        self.lookahead = lookahead
        self.feed_interval = feed_interval
        self.latency_ms = 0.0  # output latency compensation: events go out this much earlier
        # Per-channel compensation (a role's port with its own synth): overrides latency_ms on those channels.
        self.channel_latency_ms: dict[int, float] = {}
        self._pending: list[tuple[float, int, int, bytes, Stream]] = []  # (beat, order, seq, data, stream)
        self._seq = itertools.count()
        self._stream_ids = itertools.count(1)
        self.streams: dict[int, Stream] = {}
        self.scheduled_total = 0

    @property
    def lookahead_ticks(self) -> int:
        return int(self.lookahead * self.io.rate)

    @property
    def latency_ticks(self) -> int:
        """The largest compensation in use (how far ahead events must be taken from the beat domain)."""
        most = max([self.latency_ms, *self.channel_latency_ms.values()])
        return int(most * self.io.rate / 1000.0)

    def set_latency(self, ms: float, channels: set[int] | None = None) -> None:
        """Compensation for the whole output, or for these channels (their port) only."""
        if channels is None:
            self.latency_ms = float(ms)
            return
        for ch in channels:
            self.channel_latency_ms[ch] = float(ms)

    def start_lead_ticks(self) -> int:
        """How far ahead of now the first event of new material must lie so it is never already late."""
        return self.lookahead_ticks + int(self.feed_interval * 2 * self.io.rate) + self.latency_ticks

    def playhead(self) -> float:
        return self.clock.beat_at(self.io.now())

    def next_boundary(self, at: str = "bar") -> float:
        return self.clock.next_boundary(self.io.now(), at, self.start_lead_ticks())

    def open_stream(self, name: str, on_low_water: Callable[[Stream], None] | None = None,
                    low_water_beats: float = 0.0) -> Stream:
        stream = Stream(self, name, on_low_water, low_water_beats)
        self.streams[stream.id] = stream
        return stream

    def play(self, events: list[TimedEvent], at: str = "bar") -> Scheduled:
        """Schedule a clip to start at the next bar/beat (or now) at least one lookahead from now: a one-shot
        stream that closes itself when its last event has been submitted."""
        start = self.next_boundary(at)
        stream = self.open_stream("clip")
        stream.append(events, start)
        self.feed()
        notes = sum(1 for e in events if e.order == 1)
        return Scheduled(start, len(events), notes)

    def _push(self, stream: Stream, events: list[TimedEvent], at_beat: float) -> int:
        pending = self._pending
        for e in events:
            beat = at_beat + e.beat
            heapq.heappush(pending, (beat, e.order, next(self._seq), e.data, stream))
            if beat > stream.end_beat:
                stream.end_beat = beat
        stream.pending += len(events)
        stream.events += len(events)
        stream.notes += sum(1 for e in events if e.order == 1)
        self.scheduled_total += len(events)
        return len(events)

    def _cancel(self, stream: Stream) -> int:
        if stream.cancelled:
            return 0
        stream.cancelled = True
        dropped = stream.pending
        if dropped:
            self._pending = [p for p in self._pending if p[4] is not stream]
            heapq.heapify(self._pending)
        stream.pending = 0
        # Note-ons already handed to the writer (within the lookahead) sound; each gets a note-off just after
        # it, so nothing this stream started is left hanging and nothing else is touched.
        now = self.io.now()
        offs = [(max(now, last + 1), bytes((NOTE_OFF | ch, pitch, 0)))
                for (ch, pitch), (holds, last) in stream.open.items() for _ in range(holds)]
        stream.open.clear()
        if offs:
            self.io.submit(offs)
        self.streams.pop(stream.id, None)
        return dropped + len(offs)

    def _drop_all(self) -> int:
        """Forget every pending event and stream (the writer releases what sounds)."""
        n = len(self._pending)
        self._pending.clear()
        for stream in list(self.streams.values()):
            stream.pending = 0
            stream.open.clear()
            stream.cancelled = True
        self.streams.clear()
        return n

    def stop(self) -> int:
        """Cancel every stream and release every sounding note."""
        return self._drop_all() + self.io.cancel()

    def panic(self, every_channel: bool = False) -> int:
        """`stop`, then All Notes Off / All Sound Off on every channel used (or all 16)."""
        return self._drop_all() + self.io.panic(every_channel)

    @property
    def pending(self) -> int:
        return len(self._pending) + len(self.io.queue)

    def feed(self) -> int:
        pending = self._pending
        if not self.clock.state.running:
            return 0
        now = self.io.now()
        horizon = self.clock.beat_at(now + self.lookahead_ticks + self.latency_ticks)
        rate_ms = self.io.rate / 1000.0
        default = int(self.latency_ms * rate_ms)
        per_channel = {ch: int(ms * rate_ms) for ch, ms in self.channel_latency_ms.items()}
        batch = []
        while pending and pending[0][0] <= horizon:
            beat, _, _, data, stream = heapq.heappop(pending)
            latency = per_channel.get(data[0] & 0x0F, default) if per_channel and data[0] < 0xF0 else default
            tick = self.clock.tick_at(beat) - latency
            batch.append((tick, data))
            stream.pending -= 1
            stream._submitted(tick, data)
            if stream.pending == 0 and stream.on_low_water is None:
                self.streams.pop(stream.id, None)  # a finished one-shot clip
        if batch:
            self.io.submit(batch)
        self._check_low_water(self.clock.beat_at(now))
        return len(batch)

    def _check_low_water(self, playhead: float) -> None:
        for stream in list(self.streams.values()):
            if stream.on_low_water is not None and stream.queued_beats(playhead) < stream.low_water_beats:
                try:
                    stream.on_low_water(stream)
                except Exception:  # a producer's bug must not stop the feeder
                    log.exception("low-water callback of stream %s failed", stream.name)

    async def run(self) -> None:
        while True:
            try:
                self.feed()
            except Exception:  # never let one bad event stop the feeder; count it via the log
                log.exception("scheduler feed failed")
            await asyncio.sleep(self.feed_interval)
