"""Re-orchestration and transposition of clips: the same music in other plausible instruments and keys."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from bridge.music import Piece


@dataclass(frozen=True)
class Ensemble:
    name: str  # caption words: "string quartet", "church organ"
    programs: tuple[int, ...]  # GM program per voice, top voice first; the last one repeats


# Solo instruments a folk melody is plausibly played on.
FOLK_SOLOISTS: tuple[Ensemble, ...] = tuple(
    Ensemble(name, (program,))
    for name, program in (
        ("fiddle", 40), ("flute", 73), ("tin whistle", 78), ("accordion", 21), ("piano", 0), ("oboe", 68),
        ("clarinet", 71), ("recorder", 74), ("harmonica", 22), ("nylon guitar", 24), ("banjo", 105),
        ("pan flute", 75), ("mandolin", 25), ("concertina", 23), ("harp", 46),
    )
)

# Ensembles for four-part chorales and vocal polyphony.
CHORAL_ENSEMBLES: tuple[Ensemble, ...] = (
    Ensemble("choir", (52,)),
    Ensemble("string quartet", (40, 40, 41, 42)),
    Ensemble("string ensemble", (48,)),
    Ensemble("church organ", (19,)),
    Ensemble("brass quartet", (56, 56, 57, 58)),
    Ensemble("woodwind quartet", (73, 68, 71, 70)),
    Ensemble("piano", (0,)),
    Ensemble("recorder consort", (74, 74, 74, 74)),
    Ensemble("harpsichord", (6,)),
    Ensemble("viol consort", (40, 41, 42, 43)),
)

CLASSICAL_ENSEMBLES: tuple[Ensemble, ...] = (
    Ensemble("piano", (0,)),
    Ensemble("string ensemble", (48,)),
    Ensemble("harpsichord", (6,)),
)


def pick(options, *seed_parts: object):
    """A deterministic choice: the same clip always gets the same variant."""
    h = int(hashlib.md5("|".join(map(str, seed_parts)).encode()).hexdigest()[:8], 16)
    return options[h % len(options)]


def unit(*seed_parts: object) -> float:
    """A deterministic number in [0, 1) from the seed."""
    return int(hashlib.md5("|".join(map(str, seed_parts)).encode()).hexdigest()[:8], 16) / 0x100000000


def orchestrate(piece: Piece, ensemble: Ensemble) -> Piece:
    """Give each track (voice) a program from the ensemble, top voice first by mean pitch."""
    n = piece.notes
    tracks = [t for t in np.unique(n.track) if not n.is_drum[n.track == t].all()]
    order = sorted(tracks, key=lambda t: -float(n.pitch[(n.track == t) & ~n.is_drum].mean()))
    program = n.program.copy()
    for rank, track in enumerate(order):
        p = ensemble.programs[min(rank, len(ensemble.programs) - 1)]
        program[(n.track == track) & ~n.is_drum] = p
    return piece.with_notes(n.with_(program=program))


def with_program(piece: Piece, program: int) -> Piece:
    n = piece.notes
    return piece.with_notes(n.with_(program=np.where(n.is_drum, n.program, program).astype(np.int16)))


def transpose(piece: Piece, semitones: int, low: int = 28, high: int = 100) -> tuple[Piece, int]:
    """Transpose pitched notes; an interval that would leave [low, high] is moved by an octave.

    Returns the piece and the interval actually used (the caption's key follows it).
    """
    n = piece.notes
    pitched = ~n.is_drum
    if not pitched.any():
        return piece, 0
    lo, hi = int(n.pitch[pitched].min()), int(n.pitch[pitched].max())
    for candidate in (semitones, semitones - 12, semitones + 12):
        if lo + candidate >= low and hi + candidate <= high:
            semitones = candidate
            break
    else:
        return piece, 0
    pitch = np.where(pitched, n.pitch + semitones, n.pitch).astype(np.int16)
    return piece.with_notes(n.with_(pitch=pitch)).without_key_signatures(), semitones


TRANSPOSITIONS = (-5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 7)
