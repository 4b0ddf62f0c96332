"""Real music for the analysis tests: the bundled chorale and tunes from the music21 corpus's ABC files."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.music import NoteList, Piece, TempoChange, TimeSignature, piece_from_score


def corpus_dir() -> Path:
    music21 = pytest.importorskip("music21")
    return Path(music21.__file__).parent / "corpus"


def abc_tune(relative: str, number: int) -> Piece:
    """Tune X:number of an ABC file in the music21 corpus, parsed by symusic."""
    import symusic

    text = (corpus_dir() / relative).read_text(encoding="latin-1")
    for chunk in text.split("\nX:")[1:]:
        head = chunk.strip().split("\n", 1)[0].strip()
        if head.isdigit() and int(head) == number:
            return piece_from_score(symusic.Score.from_abc("X:" + chunk))
    raise LookupError(f"no X:{number} in {relative}")


def make_piece(
    notes, bpm: float = 120.0, meter: tuple[int, int] = (4, 4), program: int = 0, is_drum: bool = False
) -> Piece:
    """A one-track piece from (start, duration, pitch[, velocity]) tuples."""
    return Piece(
        notes=NoteList.from_tuples(notes, program=program, is_drum=is_drum),
        tempos=(TempoChange(0.0, bpm),),
        time_signatures=(TimeSignature(0.0, *meter),),
    )


def melody(pitches, step: float = 1.0, start: float = 0.0, velocity: int = 80) -> list[tuple]:
    return [(start + i * step, step, p, velocity) for i, p in enumerate(pitches)]


def corpus_score_piece(name: str) -> Piece:
    """A music21 corpus score as a Piece, one track per part, read from the score (not its MIDI export)."""
    from music21 import corpus

    score = corpus.parse(name)
    rows = []
    for track, part in enumerate(score.parts):
        for n in part.flatten().stripTies().notes:
            rows += [(float(n.offset), float(n.quarterLength), p.midi, track) for p in n.pitches if n.quarterLength > 0]
    start, duration, pitch, track = zip(*rows)
    n = len(rows)
    return Piece(notes=NoteList.from_columns(start, duration, pitch, [80] * n, [0] * n, [False] * n, track))
