"""The one token vocabulary of the generation models, shared by training (models/) and runtime (bridge/).

Both models read the same ids:
- backbone stream:  BOS KEY METER TEMPO | BAR DENS CHORD*beats [CAD] | ... EOS
- melody stream:    BOS KEY METER TEMPO | BAR CHORD*beats (POS PITCH DUR)* EOB | ... EOS
A chord token is (root pc, quality, inversion); its *harmonic id* (root, quality; 1..60, 0 = none) is what
H-RPE relates. Chord roots and pitches are absolute; training transposes pieces to all 12 keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

SPECIALS = ("PAD", "BOS", "EOS", "BAR", "EOB", "CAD", "NC")
MODES = ("major", "minor")
METERS = ("2/4", "3/4", "4/4", "2/2", "3/2", "6/8", "9/8", "12/8", "3/8", "6/4")
# Tempo buckets: upper edges (BPM, quarter notes per minute) and the tempo each bucket renders at.
TEMPO_EDGES = (60, 72, 84, 96, 108, 120, 144)
TEMPO_CENTRES = (54, 66, 78, 90, 102, 114, 132, 160)
N_DENSITY = 4  # melody onsets per beat: <=0.5, <=1, <=2, more
# Qualities of the chord vocabulary: names follow bridge.analysis.qualities.
QUALITIES = ("major", "minor", "diminished", "augmented", "dominant7")
QUALITY_INTERVALS = ((0, 4, 7), (0, 3, 7), (0, 3, 6), (0, 4, 8), (0, 4, 7, 10))
QUALITY_SUFFIX = ("", "m", "dim", "aug", "7")
N_INVERSIONS = 3  # root position, first inversion, other
POSITIONS_PER_QUARTER = 4  # melody onset grid: sixteenth notes
MAX_BAR_QUARTERS = 6.0
N_POSITIONS = int(MAX_BAR_QUARTERS * POSITIONS_PER_QUARTER)
PITCH_LOW, PITCH_HIGH = 36, 96
DURATIONS = (1, 2, 3, 4, 6, 8, 12, 16, 24)  # in sixteenths


@dataclass(frozen=True)
class Vocab:
    """Token names and id ranges; build once with `vocab()`."""

    names: tuple[str, ...]

    def id(self, name: str) -> int:
        return _index(self.names)[name]

    def __len__(self) -> int:
        return len(self.names)


@lru_cache(maxsize=1)
def _index(names: tuple[str, ...]) -> dict[str, int]:
    return {n: i for i, n in enumerate(names)}


def _build_names() -> tuple[str, ...]:
    names = list(SPECIALS)
    names += [f"KEY_{pc}_{m}" for m in MODES for pc in range(12)]
    names += [f"METER_{m}" for m in METERS]
    names += [f"TEMPO_{i}" for i in range(len(TEMPO_CENTRES))]
    names += [f"DENS_{i}" for i in range(N_DENSITY)]
    names += [f"CH_{r}_{q}_{v}" for r in range(12) for q in range(len(QUALITIES)) for v in range(N_INVERSIONS)]
    names += [f"POS_{i}" for i in range(N_POSITIONS)]
    names += [f"PITCH_{p}" for p in range(PITCH_LOW, PITCH_HIGH + 1)]
    names += [f"DUR_{d}" for d in DURATIONS]
    return tuple(names)


@lru_cache(maxsize=1)
def vocab() -> Vocab:
    return Vocab(_build_names())


PAD, BOS, EOS, BAR, EOB, CAD, NC = range(len(SPECIALS))
KEY0 = len(SPECIALS)
METER0 = KEY0 + 24
TEMPO0 = METER0 + len(METERS)
DENS0 = TEMPO0 + len(TEMPO_CENTRES)
CHORD0 = DENS0 + N_DENSITY
N_CHORDS = 12 * len(QUALITIES) * N_INVERSIONS
POS0 = CHORD0 + N_CHORDS
PITCH0 = POS0 + N_POSITIONS
DUR0 = PITCH0 + (PITCH_HIGH - PITCH_LOW + 1)
VOCAB_SIZE = DUR0 + len(DURATIONS)
N_HARM = 1 + 12 * len(QUALITIES)  # harmonic ids: 0 none, 1 + root * n_qualities + quality


# ---------------------------------------------------------------- token <-> value helpers (pure)


def key_token(tonic_pc: int, mode: str) -> int:
    return KEY0 + MODES.index(mode) * 12 + tonic_pc % 12


def key_of_token(tok: int) -> tuple[int, str]:
    m, pc = divmod(tok - KEY0, 12)
    return pc, MODES[m]


def meter_token(meter: str) -> int:
    return METER0 + METERS.index(meter)


def tempo_bucket(bpm: float) -> int:
    return int(np.searchsorted(TEMPO_EDGES, bpm, side="right"))


def tempo_token(bpm: float) -> int:
    return TEMPO0 + tempo_bucket(bpm)


def chord_token(root: int, quality: int, inversion: int = 0) -> int:
    return CHORD0 + ((root % 12) * len(QUALITIES) + quality) * N_INVERSIONS + min(inversion, N_INVERSIONS - 1)


def chord_of_token(tok: int) -> tuple[int, int, int]:
    """(root pc, quality index, inversion) of a chord token."""
    i = tok - CHORD0
    rq, inv = divmod(i, N_INVERSIONS)
    root, q = divmod(rq, len(QUALITIES))
    return root, q, inv


def is_chord(tok) -> np.ndarray | bool:
    return (np.asarray(tok) >= CHORD0) & (np.asarray(tok) < CHORD0 + N_CHORDS)


def harm_of_token(tok: int) -> int:
    """Harmonic id of a chord token (inversion dropped), 0 for anything else."""
    if not is_chord(tok):
        return 0
    root, q, _ = chord_of_token(tok)
    return 1 + root * len(QUALITIES) + q


def harmonic_ids(tokens: np.ndarray) -> np.ndarray:
    """Per position, the harmonic id of the chord in force (the latest chord token at or before it); 0 before any.

    Non-chord tokens carry the current chord so that every query (also BAR and DENS, which predict the next
    chord) has a harmonic relation to the events it attends to.
    """
    tokens = np.asarray(tokens)
    chord = is_chord(tokens)
    rq = (tokens - CHORD0) // N_INVERSIONS
    ids = np.where(chord, 1 + rq, 0)
    idx = np.where(chord, np.arange(len(tokens)), -1)
    last = np.maximum.accumulate(idx) if len(tokens) else idx
    return np.where(last >= 0, ids[np.maximum(last, 0)], 0).astype(np.int64)


def chord_pcs(root: int, quality: int) -> tuple[int, ...]:
    return tuple((root + i) % 12 for i in QUALITY_INTERVALS[quality])


def pitch_token(pitch: int) -> int:
    p = int(pitch)
    while p < PITCH_LOW:
        p += 12
    while p > PITCH_HIGH:
        p -= 12
    return PITCH0 + p - PITCH_LOW


def duration_token(sixteenths: float) -> int:
    return DUR0 + int(np.argmin([abs(d - sixteenths) for d in DURATIONS]))


def density_bucket(onsets_per_beat: float) -> int:
    return int(np.searchsorted((0.5, 1.0, 2.0), onsets_per_beat, side="left"))


def token_name(tok: int) -> str:
    return vocab().names[tok]


@lru_cache(maxsize=1)
def harmonic_relation_table() -> np.ndarray:
    """(N_HARM, N_HARM) int64: H-RPE relation id between a query chord and a key chord.

    0 when either side has no chord; otherwise 1 + 4 * (root interval mod 12) + common tones (0..3), so the
    relation is transposition invariant (the same in every key) and separates e.g. V->I from iii->I.
    """
    table = np.zeros((N_HARM, N_HARM), dtype=np.int64)
    for a in range(1, N_HARM):
        ra, qa = divmod(a - 1, len(QUALITIES))
        pa = set(chord_pcs(ra, qa))
        for b in range(1, N_HARM):
            rb, qb = divmod(b - 1, len(QUALITIES))
            common = min(3, len(pa & set(chord_pcs(rb, qb))))
            table[a, b] = 1 + 4 * ((ra - rb) % 12) + common
    return table


N_RELATIONS = 1 + 12 * 4
