"""Query by playing: arm, end and tune phrase capture; a finished phrase is analysed and searched.

The phrase comes in its own beats (bridge.midi.capture); it is searched transposition-invariant and each hit
says at which interval it was found; with play=1 the best hit is played moved back into the player's key.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bridge.daemon.context import Context
from bridge.daemon.dispatch import error_reply
from bridge.daemon.handlers.search import result_replies
from bridge.daemon.protocol import PREFIX, ProtocolError, Reply, Request
from bridge.midi.events import piece_events
from bridge.music import Piece

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Armed:
    request_id: int
    k: int
    play: bool
    sender: tuple[str, int]


def describe_phrase(piece: Piece) -> tuple[str, float]:
    """Key of a captured phrase through the analysis layer, and its tempo: the beat capture heard in its notes."""
    try:
        from bridge.analysis import analyze_piece

        a = analyze_piece(piece)
        return a.key.name, float(piece.tempo_at(0.0))
    except Exception as e:  # analysis of a 3-note phrase may legitimately fail; the search still runs
        log.info("phrase analysis failed: %s", e)
        return "", float(piece.tempo_at(0.0))


def in_players_key(piece: Piece, transpose: int) -> Piece:
    """A hit found at interval `transpose` (hit ≈ phrase + transpose), moved into the phrase's key."""
    from bridge.library.ranking import transposed

    return transposed(piece, -transpose)


class CaptureHandlers:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.armed: Armed | None = None
        self._tasks: set[asyncio.Task] = set()
        ctx.midi.listeners.append(self.on_phrase)

    def start(self, req: Request) -> list[Reply]:
        self.armed = Armed(req.id, req["k"], bool(req["play"]), req.sender)
        return [Reply(f"{PREFIX}/capture/start", (req.id, float(self.ctx.midi.capture.silence_beats)))]

    def stop(self, req: Request) -> list[Reply]:
        piece = self.ctx.midi.end_phrase()  # runs on_phrase for an armed capture
        return [Reply(f"{PREFIX}/capture/stop", (req.id, len(piece.notes) if piece is not None else 0))]

    def silence(self, req: Request) -> list[Reply]:
        self.ctx.midi.capture.silence_beats = req["beats"]
        return [Reply(f"{PREFIX}/capture/silence", (req.id, req["beats"]))]

    def on_phrase(self, piece: Piece) -> None:
        armed, self.armed = self.armed, None
        if armed is None:
            return  # kept as ctx.midi.last_phrase for /midibridge/search/example
        task = asyncio.ensure_future(self._answer(armed, piece))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, armed: Armed, piece: Piece) -> None:
        ctx = self.ctx
        key, tempo = describe_phrase(piece)
        beats = float(piece.end)
        ctx.outbox([Reply(f"{PREFIX}/capture/phrase", (armed.request_id, len(piece.notes), beats, key, tempo))],
                   armed.sender)
        try:
            outcome = await ctx.search.search(armed.request_id, like_piece=piece, k=armed.k, transpose=True)
            replies = result_replies(armed.request_id, outcome)
            if armed.play and outcome.hits:
                hit = outcome.hits[0]
                best = await ctx.search.load_hit_piece(hit)
                # In the player's key: the hit matched the phrase moved by `transpose`, so move it back.
                ctx.midi.play(piece_events(in_players_key(best, int(getattr(hit, "transpose", 0)))), "bar")
        except ProtocolError as e:
            ctx.stats.failed += 1
            replies = [error_reply(armed.request_id, e.reason, f"{PREFIX}/capture/start")]
        ctx.outbox(replies, armed.sender)


def table(ctx: Context):
    h = CaptureHandlers(ctx)
    return [(f"{PREFIX}/capture/start", h.start), (f"{PREFIX}/capture/stop", h.stop),
            (f"{PREFIX}/capture/silence", h.silence)]
