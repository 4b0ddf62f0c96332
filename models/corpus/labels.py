"""The metadata record of one clip: source labels first, the music analysis for everything else."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bridge.analysis import PieceAnalysis, program_name
from bridge.music import Piece
from models.corpus.captions import CaptionFacts, make_captions, moods_of
from models.corpus.keys import Key
from models.corpus.split import split_of

# GM programs as a caption says them; anything else uses the GM name in lower case.
FRIENDLY = {
    0: "piano", 6: "harpsichord", 19: "church organ", 21: "accordion", 22: "harmonica", 23: "concertina",
    24: "nylon guitar", 25: "mandolin", 26: "jazz guitar", 27: "electric guitar", 32: "acoustic bass",
    33: "electric bass", 35: "fretless bass", 40: "violin", 41: "viola", 42: "cello", 43: "double bass",
    46: "harp", 48: "strings", 52: "choir", 53: "voice", 56: "trumpet", 57: "trombone", 58: "tuba",
    60: "french horn", 68: "oboe", 70: "bassoon", 71: "clarinet", 72: "fife", 73: "flute", 74: "recorder",
    75: "pan flute", 78: "tin whistle", 105: "banjo", 18: "rock organ", 3: "honky-tonk piano",
}


def friendly_name(program: int, is_drum: bool = False) -> str:
    if is_drum:
        return "drums"
    if program in FRIENDLY:
        return FRIENDLY[program]
    return program_name(program).lower().split(" (")[0]


def instrument_words(piece: Piece) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(GM names, caption names) of the instruments, most notes first."""
    n = piece.notes
    counts = Counter((int(p), bool(d)) for p, d in zip(n.program, n.is_drum))
    ordered = [k for k, _ in counts.most_common()]
    gm = tuple(dict.fromkeys("Drums" if d else program_name(p) for p, d in ordered))
    words = tuple(dict.fromkeys(friendly_name(p, d) for p, d in ordered))
    return gm, words


def chord_summary(symbols: list[str], limit: int = 4) -> tuple[str, ...]:
    """The most used chords (by count), listed in order of first appearance."""
    if not symbols:
        return ()
    top = {s for s, _ in Counter(symbols).most_common(limit)}
    return tuple(dict.fromkeys(s for s in symbols if s in top))


@dataclass(frozen=True)
class ClipContext:
    """What the builder knows about a clip beyond its notes."""

    piece_id: str
    collection: str
    category: str
    title: str
    source: str
    source_file: str
    licence: str
    genre: str
    dance: str | None
    key: Key | None  # from the source (already transposed), None -> analysis
    key_source: str
    lead: str  # caption name of the melody instrument or ensemble
    transposed: int
    orchestrated: bool
    groove: str | None
    chords: tuple[str, ...]  # derived/played chords; empty -> analysis chords
    chord_source: str
    bars: int


def clip_record(location: str, ctx: ClipContext, piece: Piece, analysis: PieceAnalysis, seed: str,
                split_fractions=(0.9, 0.05, 0.05), captions_per_clip: int = 3) -> dict:
    split = split_of(ctx.piece_id, split_fractions, seed)
    if ctx.key is not None:
        key_name, mode, tonic = ctx.key.name, ctx.key.mode, ctx.key.tonic
        key_source = ctx.key_source
    else:
        key_name, mode, tonic = analysis.key.name, analysis.key.mode, analysis.key.tonic
        key_source = "analysis"
    gm_names, words = instrument_words(piece)
    chords = ctx.chords or chord_summary([c.symbol for c in analysis.chords])
    chord_source = ctx.chord_source if ctx.chords else "analysis"
    bpm = float(analysis.tempo_bpm)
    moods = moods_of(mode, bpm, analysis.register, analysis.dynamics, ctx.category)
    facts = CaptionFacts(
        key=key_name, meter=analysis.time_signature, bpm=bpm, tempo_word=analysis.tempo_word,
        instruments=words, lead=ctx.lead, genre=ctx.genre, category=ctx.category, moods=tuple(moods),
        texture=analysis.texture, register=analysis.register, dynamics=analysis.dynamics, bars=ctx.bars,
        seconds=analysis.seconds, dance=ctx.dance, groove=ctx.groove, chords=chords,
    )
    captions = make_captions(facts, split, f"{seed}|{location}", captions_per_clip)
    return {
        "location": location,
        "caption": captions[0][1],
        "captions": [c for _f, c in captions],
        "phrasing_family": captions[0][0],
        "caption_families": [f for f, _c in captions],
        "split": split,
        "piece_id": ctx.piece_id,
        "collection": ctx.collection,
        "category": ctx.category,
        "title": ctx.title,
        "source": ctx.source,
        "source_file": ctx.source_file,
        "licence": ctx.licence,
        "genre": ctx.genre,
        "dance": ctx.dance,
        "key": key_name,
        "tonic": tonic,
        "mode": mode,
        "key_source": key_source,
        "analysis_key": analysis.key.name,
        "time_signature": analysis.time_signature,
        "tempo": round(bpm, 1),
        "tempo_word": analysis.tempo_word,
        "duration": round(float(analysis.seconds), 2),
        "bars": ctx.bars,
        "instrument_summary": list(gm_names),
        "instruments": list(words),
        "ensemble": ctx.lead,
        "chord_summary": list(chords),
        "chord_source": chord_source,
        "mood": moods,
        "texture": analysis.texture,
        "register": analysis.register,
        "dynamics": analysis.dynamics,
        "transposed": ctx.transposed,
        "orchestrated": ctx.orchestrated,
        "groove": ctx.groove,
        "notes": len(piece.notes),
    }
