"""Drop pieces that are the same tune twice, so no tune sits in both train and test.

The music21 corpus repeats tunes: O'Neill's files overlap (0626-0635 inside 0626-0700; two transcribers
of 0732-0758), Essen has variants copied between collections, Bach chorales come in several formats.
"""

from __future__ import annotations

import hashlib

import numpy as np

from bridge.music import MidiFileError, load_midi
from models.corpus.ingest import SourcePiece, slug


def melody_fingerprint(midi_path: str, notes: int = 40) -> str:
    """Transposition-invariant hash of the top line's first intervals and onsets; '' if unreadable."""
    try:
        piece = load_midi(midi_path)
    except MidiFileError:
        return ""
    n = piece.notes.pitched()
    if len(n) < 8:
        return ""
    # Top line: the highest pitch at each onset.
    order = np.lexsort((-n.pitch, n.start))
    starts, pitches = n.start[order], n.pitch[order]
    first = np.concatenate([[True], np.diff(starts) > 1e-6])
    starts, pitches = starts[first][:notes], pitches[first][:notes].astype(np.int64)
    intervals = np.diff(pitches)
    onsets = np.round((starts - starts[0]) * 12).astype(np.int64)
    return hashlib.md5(intervals.tobytes() + onsets.tobytes()).hexdigest()


def title_key(sp: SourcePiece) -> tuple | None:
    """Same collection, title, key and meter: the same tune transcribed twice."""
    if sp.category != "folk" or not sp.title or not sp.key:
        return None
    return sp.collection, slug(sp.title, 60), sp.key


def find_duplicates(pieces: list[SourcePiece], fingerprints: list[str]) -> dict[str, str]:
    """piece_id -> piece_id of the copy that is kept (the first in the given order)."""
    seen_fp: dict[str, str] = {}
    seen_title: dict[tuple, str] = {}
    dupes: dict[str, str] = {}
    for sp, fp in zip(pieces, fingerprints):
        tk = title_key(sp)
        original = (seen_fp.get(fp) if fp else None) or (seen_title.get(tk) if tk else None)
        if original:
            dupes[sp.piece_id] = original
            continue
        if fp:
            seen_fp[fp] = sp.piece_id
        if tk:
            seen_title[tk] = sp.piece_id
    return dupes
