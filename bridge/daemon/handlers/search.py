"""search/text and search/example: results as one message per hit, then an end message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.daemon.context import Context
from bridge.daemon.protocol import PREFIX, ProtocolError, Reply, Request
from bridge.daemon.search_service import SearchOutcome, parse_filters
from bridge.midi.events import channels_for


def hit_reply(request_id: int, rank: int, hit: Any) -> Reply:
    return Reply(f"{PREFIX}/search/hit", (
        request_id, rank, str(hit.file), float(hit.score), int(hit.window_start_bar), int(hit.window_end_bar),
        float(hit.start_seconds), float(hit.end_seconds), str(hit.key), float(hit.tempo), str(hit.meter),
        ",".join(hit.instruments),
    ))


def result_replies(request_id: int, outcome: SearchOutcome) -> list[Reply]:
    replies = [hit_reply(request_id, i, h) for i, h in enumerate(outcome.hits)]
    replies.append(Reply(f"{PREFIX}/search/end", (request_id, len(outcome.hits), round(outcome.milliseconds, 3))))
    return replies


def table(ctx: Context):
    async def by_text(req: Request) -> list[Reply]:
        # Max and Pd split typed text on spaces into separate strings: words without "=" belong to the text.
        words = [w for w in req.rest if "=" not in w]
        text = " ".join([req["text"], *words]).strip()
        if not text:
            raise ProtocolError("text must be a non-empty string")
        filters = parse_filters(tuple(w for w in req.rest if "=" in w))
        outcome = await ctx.search.search(req.id, text=text, k=req["k"], **filters)
        return result_replies(req.id, outcome)

    async def by_example(req: Request) -> list[Reply]:
        path = req["path"]
        if path:
            piece, exclude = await _library_clip(ctx, path), str(Path(path).expanduser().resolve())
        else:
            piece, exclude = ctx.midi.last_phrase, None
            if piece is None:
                raise ProtocolError("no captured phrase yet: play into the in port, or give a clip path")
        outcome = await ctx.search.search(req.id, like_piece=piece, k=req["k"], exclude_file=exclude)
        return result_replies(req.id, outcome)

    async def hit_notes(req: Request) -> list[Reply]:
        hit = ctx.search.hit(req["search_id"], req["rank"])
        piece = await ctx.search.load_hit_piece(hit)
        n = piece.notes
        channels = channels_for(piece)
        replies = [
            Reply(f"{PREFIX}/hit/note", (req.id, float(s), float(d), int(p), int(v), int(c)))
            for s, d, p, v, c in zip(n.start, n.duration, n.pitch, n.velocity, channels)
        ]
        length = float(getattr(hit, "end_quarters", 0.0) - getattr(hit, "start_quarters", 0.0)) or piece.end
        ts = piece.time_signature_at(0.0)
        replies.append(Reply(f"{PREFIX}/hit/end", (req.id, len(n), length, float(piece.tempo_at(0.0)), str(ts))))
        return replies

    return [(f"{PREFIX}/search/text", by_text), (f"{PREFIX}/search/example", by_example),
            (f"{PREFIX}/hit/notes", hit_notes)]


async def _library_clip(ctx: Context, path: str):
    p = Path(path).expanduser().resolve()
    roots = [r.expanduser().resolve() for r in ctx.search.library_roots()]
    # Only files inside the indexed folders: an OSC message must not read arbitrary files.
    if roots and not any(p == r or r in p.parents for r in roots):
        raise ProtocolError(f"path must be inside the library ({', '.join(map(str, roots))}), got {path!r}")
    if not p.is_file():
        raise ProtocolError(f"no such file: {path!r}")
    return await ctx.search.load_file(str(p))
