"""search/text and search/example: results as one message per hit, then an end message."""

from __future__ import annotations

from typing import Any

from bridge.daemon.context import Context
from bridge.daemon.dispatch import BAD_ARGUMENTS
from bridge.daemon.protocol import PREFIX, ProtocolError, Reply, Request
from bridge.daemon.search_service import SearchOutcome, join_text, parse_filters
from bridge.midi.events import channels_for

# matched / missed constraints travel as one string each, labels joined by this (labels hold spaces, commas
# never; "|" is not special in Max or Pd message boxes, unlike ";" and ",").
LABEL_SEPARATOR = "|"


def hit_reply(request_id: int, rank: int, hit: Any) -> Reply:
    return Reply(f"{PREFIX}/search/hit", (
        request_id, rank, str(hit.file), float(hit.score), int(hit.window_start_bar), int(hit.window_end_bar),
        float(hit.start_seconds), float(hit.end_seconds), str(hit.key), float(hit.tempo), str(hit.meter),
        ",".join(hit.instruments), int(getattr(hit, "transpose", 0)),
        LABEL_SEPARATOR.join(getattr(hit, "matched", ())), LABEL_SEPARATOR.join(getattr(hit, "missed", ())),
    ))


def result_replies(request_id: int, outcome: SearchOutcome) -> list[Reply]:
    replies = [hit_reply(request_id, i, h) for i, h in enumerate(outcome.hits)]
    replies.append(Reply(f"{PREFIX}/search/end", (request_id, len(outcome.hits), round(outcome.milliseconds, 3))))
    return replies


def table(ctx: Context):
    async def by_text(req: Request) -> list[Reply]:
        # Max and Pd split typed text on spaces into separate strings: words without "=" belong to the text.
        words = tuple(w for w in req.rest if "=" not in w)
        text = join_text(req["text"], words)  # the 512-character limit holds for the joined text
        if not text:
            raise ProtocolError("text must be a non-empty string", kind=BAD_ARGUMENTS)
        filters = parse_filters(tuple(w for w in req.rest if "=" in w))
        outcome = await ctx.search.search(req.id, text=text, k=req["k"], **filters)
        return result_replies(req.id, outcome)

    async def by_example(req: Request) -> list[Reply]:
        path = req["path"]
        if path:
            real = await ctx.search.check_path(path, "search/example", library_only=True)
            piece, exclude = await ctx.search.load_file(real), real
        else:
            piece, exclude = ctx.midi.last_phrase, None
            if piece is None:
                raise ProtocolError("no captured phrase yet: play into the in port, or give a clip path")
        # A played phrase is searched in every key (the hit says at which interval); a library clip as it is.
        outcome = await ctx.search.search(req.id, like_piece=piece, k=req["k"], exclude_file=exclude,
                                          transpose=not path)
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

    async def library_index(req: Request) -> list[Reply]:
        def progress(payload) -> None:
            stage, done, total = payload
            ctx.outbox([Reply(f"{PREFIX}/library/progress", (req.id, str(stage), int(done), int(total)))],
                       req.sender)

        r = await ctx.search.index(req.id, progress)
        return [Reply(f"{PREFIX}/library/index", (
            req.id, int(r["files_seen"]), int(r["added"]), int(r["updated"]) + int(r["renamed"]), int(r["removed"]),
            int(r["skipped_new"]), int(ctx.search.windows), round(float(r["seconds"]), 3)))]

    return [(f"{PREFIX}/search/text", by_text), (f"{PREFIX}/search/example", by_example),
            (f"{PREFIX}/hit/notes", hit_notes), (f"{PREFIX}/library/index", library_index)]
