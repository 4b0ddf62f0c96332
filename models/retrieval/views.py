"""Second views of a clip for MIDI<->MIDI contrastive training: what a player changes without changing the music.

The library cuts every file into windows (`bridge.library.windows.window_spans`: 8 bars, hop 4) and the MIDI
tower reads the start of each (its header and about 4 bars). A query by playing is 2-4 bars from anywhere in a
piece, performed on piano at another tempo, louder or softer, with loose onsets and maybe in another key; a
query by example may be a library clip re-voiced to another instrument. Training pairs each library window
(the anchor, exactly as the runtime encodes it) with such a view of its first bars, so the tower learns to
rank by notes. The performance goes through the daemon's own `PhraseCapture` (`played.perform`/`capture`), so
the view's tempo and header come from the notes, as at run time.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from bridge.library.windows import window_spans
from bridge.music import Piece
from models.retrieval import played

PLAYED_SHARE = 0.7  # the rest are re-voiced copies: another GM program, same notes, tempo and dynamics changed
TRANSPOSE_SHARE = 0.5  # the search tries every shift -5..+6, so half the views keep the key
TRANSPOSE_RANGE = 5
VIEW_SPAN_BARS = 6  # excerpts start in the first 4 bars of a window: the part of it the tower reads


def library_window(piece: Piece, rng: np.random.Generator) -> Piece:
    """One of the windows the library would index for this piece, at random."""
    spans = window_spans(piece)
    if not spans:
        return piece
    span = spans[int(rng.integers(len(spans)))]
    return piece.window(span.start_q, span.stop_q)


def _shift(rng: np.random.Generator) -> int:
    if rng.random() >= TRANSPOSE_SHARE:
        return 0
    s = int(rng.integers(1, TRANSPOSE_RANGE + 1))
    return s if rng.random() < 0.5 else -s


def _tempo_factor(rng: np.random.Generator) -> float:
    lo, hi = played.TEMPO_FACTORS
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def played_view(window: Piece, rng: np.random.Generator) -> Piece | None:
    """2-4 bars from the start of the window as a pianist plays them into "midibridge in" (None: too few notes)."""
    starts = window.bar_starts(until=window.end)
    head = window.window(0.0, float(starts[min(VIEW_SPAN_BARS, len(starts) - 1)])) if len(starts) > VIEW_SPAN_BARS \
        else window
    cut = played.excerpt(head, rng)
    if cut is None:
        return None
    part, _ = cut
    bpm = float(window.tempo_at(0.0)) * _tempo_factor(rng)
    phrase = played.capture(played.perform(part, bpm, rng, _shift(rng)))
    if phrase is None or len(phrase.notes) < played.MIN_NOTES:
        return None
    return phrase


def revoiced_view(window: Piece, rng: np.random.Generator) -> Piece | None:
    """The window's pitched notes on one other GM program, tempo scaled, velocities scaled, maybe transposed."""
    notes = window.notes.take(~window.notes.is_drum)
    if len(notes) < played.MIN_NOTES:
        return None
    program = int(rng.integers(0, 128))
    shift = _shift(rng)
    pitch = notes.pitch.astype(np.int64) + shift
    pitch = np.where(pitch > 108, pitch - 12, np.where(pitch < 21, pitch + 12, pitch))
    velocity = np.clip(np.round(notes.velocity * rng.uniform(0.7, 1.3)), 1, 127)
    jitter = rng.uniform(-0.04, 0.04, len(notes))  # about +-20 ms at 120 BPM, in beats
    start = np.maximum(notes.start + jitter, 0.0)
    voiced = notes.with_(pitch=pitch.astype(notes.pitch.dtype), velocity=velocity.astype(notes.velocity.dtype),
                         program=np.full(len(notes), program, dtype=notes.program.dtype), start=start,
                         track=np.zeros(len(notes), dtype=notes.track.dtype))
    factor = _tempo_factor(rng)
    piece = window.with_notes(voiced.sorted())
    return scale_tempo(piece, factor)


def scale_tempo(piece: Piece, factor: float) -> Piece:
    """The same score at `factor` times the tempo (every tempo change scaled)."""
    return replace(piece, tempos=tuple(replace(t, bpm=t.bpm * factor) for t in piece.tempos))


def second_view(window: Piece, rng: np.random.Generator) -> Piece | None:
    """A played excerpt (PLAYED_SHARE) or a re-voiced copy of the window; None when the window has too few notes."""
    if rng.random() < PLAYED_SHARE:
        view = played_view(window, rng)
        if view is not None:
            return view
    return revoiced_view(window, rng)
