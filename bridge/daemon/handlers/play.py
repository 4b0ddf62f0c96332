"""play/hit, play/file, play/stop: everything goes through the one scheduler.

A clip's events are prepared in the search worker (parsed, counted against the cap, turned into events)
and handed to the scheduler a slice at a time, so one long clip never holds the event loop. While the
transport is stopped a clip waits and starts at the first bar (or beat) once it runs; the reply says so.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bridge.daemon.context import Context
from bridge.daemon.protocol import PREFIX, ProtocolError, Reply, Request
from bridge.daemon.search_service import Clip

log = logging.getLogger(__name__)

MAX_NOTES = 20_000  # notes one play request may schedule (a longer clip is refused, and the error says so)
SLICE = 1024  # events handed to the scheduler at a time
SCHEDULED = "scheduled"
WAITING = "waiting for transport"  # reply state while the transport is stopped: starts when it runs


@dataclass
class Waiting:
    clip: Clip
    at: str


class Player:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.waiting: list[Waiting] = []
        self._watch: asyncio.Task | None = None

    def _require_output(self) -> None:
        if self.ctx.midi.io.backend == "none":
            raise ProtocolError(f"no MIDI output: {self.ctx.midi.io.problem}")

    async def schedule(self, clip: Clip, at: str) -> tuple[float, int, str]:
        """(start beat, notes, state): scheduled now, or waiting for the transport (start beat -1)."""
        if not clip.events:
            raise ProtocolError("nothing to play: the clip has no notes")
        if not self.ctx.midi.clock.state.running:
            self.waiting.append(Waiting(clip, at))
            if self._watch is None or self._watch.done():
                self._watch = asyncio.ensure_future(self._start_with_transport())
            return -1.0, clip.notes, WAITING
        return await self._now(clip, at), clip.notes, SCHEDULED

    async def _now(self, clip: Clip, at: str) -> float:
        scheduler = self.ctx.midi.scheduler
        start = scheduler.next_boundary(at)
        stream = scheduler.open_stream("clip")
        events = clip.events
        for lo in range(0, len(events), SLICE):
            stream.append(events[lo:lo + SLICE], start)
            if lo + SLICE < len(events):
                await asyncio.sleep(0)
        scheduler.feed()
        return start

    async def _start_with_transport(self) -> None:
        clock = self.ctx.midi.clock
        while self.waiting:
            if clock.state.running:
                waiting, self.waiting = self.waiting, []
                for w in waiting:
                    try:
                        start = await self._now(w.clip, w.at)
                        log.info("transport started: a waiting clip of %d notes starts at beat %.2f",
                                 w.clip.notes, start)
                    except Exception:
                        log.exception("cannot start a waiting clip")
                return
            await asyncio.sleep(self.ctx.midi.scheduler.feed_interval)

    def stop(self) -> int:
        waiting = sum(len(w.clip.events) for w in self.waiting)
        self.waiting.clear()
        return self.ctx.midi.stop() + waiting


def table(ctx: Context):
    player = Player(ctx)

    def reply(address: str, req: Request, beat: float, notes: int, state: str) -> list[Reply]:
        return [Reply(address, (req.id, round(beat, 4), notes, state))]

    async def play_hit(req: Request) -> list[Reply]:
        player._require_output()
        hit = ctx.search.hit(req["search_id"], req["rank"])
        clip = await ctx.search.hit_clip(hit, MAX_NOTES)
        beat, notes, state = await player.schedule(clip, req["at"])
        return reply(f"{PREFIX}/play/hit", req, beat, notes, state)

    async def play_file(req: Request) -> list[Reply]:
        player._require_output()
        path = await ctx.search.check_path(req["path"], "play/file")
        clip = await ctx.search.file_clip(path, MAX_NOTES, shown=req["path"])
        beat, notes, state = await player.schedule(clip, req["at"])
        return reply(f"{PREFIX}/play/file", req, beat, notes, state)

    def stop(req: Request) -> list[Reply]:
        return [Reply(f"{PREFIX}/play/stop", (req.id, player.stop()))]

    return [(f"{PREFIX}/play/hit", play_hit), (f"{PREFIX}/play/file", play_file), (f"{PREFIX}/play/stop", stop)]
