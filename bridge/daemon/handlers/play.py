"""play/hit, play/file, play/stop: everything goes through the one scheduler."""

from __future__ import annotations

from bridge.daemon.context import Context
from bridge.daemon.protocol import PREFIX, ProtocolError, Reply, Request
from bridge.midi.events import piece_events
from bridge.music import Piece

MAX_EVENTS = 200_000  # a clip beyond this is refused rather than flooding the port


def _schedule(ctx: Context, piece: Piece, at: str) -> tuple[float, int]:
    if ctx.midi.io.backend == "none":
        raise ProtocolError(f"no MIDI output: {ctx.midi.io.problem}")
    events = piece_events(piece)
    if not events:
        raise ProtocolError("nothing to play: the clip has no notes")
    if len(events) > MAX_EVENTS:
        raise ProtocolError(f"clip too long: {len(events)} events (at most {MAX_EVENTS})")
    done = ctx.midi.play(events, at)
    return done.start_beat, done.notes


def table(ctx: Context):
    async def play_hit(req: Request) -> list[Reply]:
        hit = ctx.search.hit(req["search_id"], req["rank"])
        piece = await ctx.search.load_hit_piece(hit)
        beat, notes = _schedule(ctx, piece, req["at"])
        return [Reply(f"{PREFIX}/play/hit", (req.id, round(beat, 4), notes))]

    async def play_file(req: Request) -> list[Reply]:
        piece = await ctx.search.load_file(req["path"])
        beat, notes = _schedule(ctx, piece, req["at"])
        return [Reply(f"{PREFIX}/play/file", (req.id, round(beat, 4), notes))]

    def stop(req: Request) -> list[Reply]:
        return [Reply(f"{PREFIX}/play/stop", (req.id, ctx.midi.stop()))]

    return [(f"{PREFIX}/play/hit", play_hit), (f"{PREFIX}/play/file", play_file), (f"{PREFIX}/play/stop", stop)]
