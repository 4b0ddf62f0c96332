"""Hybrid ranking over a snapshot: hard filters, then windows satisfying what the text states, then similarity.

Order of a result list:
1. explicit filters (`--key`, `--tempo`...) remove windows outright;
2. constraints parsed from the text ("in A minor", "3/4", "piano") sort windows into tiers by how many
   they satisfy, so "in A minor" never returns C major while A minor clips exist, yet still answers
   when none do;
3. within a tier, cosine similarity to the query embedding, or (no model) a feature score;
4. overlapping windows of one file are collapsed to the best one (hop 4 of 8 bars repeats music).
All functions are pure and vectorised over the snapshot's column arrays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from bridge.library.snapshot import MODE_CODES, Snapshot
from bridge.query import Constraints, InstrumentTerm


@dataclass(frozen=True)
class Filters:
    """Hard filters, already parsed (see bridge.query.parse_key etc.)."""

    tonic_pc: int | None = None
    mode: str | None = None
    tempo: tuple[float, float] | None = None
    meter: str | None = None
    instrument: InstrumentTerm | None = None
    min_bars: int | None = None
    exclude_file: str | None = None
    exclude_hash: str | None = None


@dataclass(frozen=True)
class Ranked:
    index: int  # row in the snapshot
    score: float  # similarity in [-1, 1] (embedding) or [0, 1] (features)
    matched: tuple[str, ...]
    missed: tuple[str, ...]


def filter_mask(snap: Snapshot, f: Filters) -> np.ndarray:
    mask = np.ones(len(snap), dtype=bool)
    if f.tonic_pc is not None:
        mask &= snap.tonic_pc == f.tonic_pc
    if f.mode is not None:
        mask &= snap.mode == MODE_CODES[f.mode]
    if f.tempo is not None:
        mask &= (snap.tempo >= f.tempo[0] - 1e-3) & (snap.tempo <= f.tempo[1] + 1e-3)
    if f.meter is not None:
        mask &= _meter_mask(snap, f.meter)
    if f.instrument is not None:
        mask &= _instrument_mask(snap, f.instrument)
    if f.min_bars is not None:
        mask &= (snap.end_bar - snap.start_bar) >= f.min_bars
    if f.exclude_file is not None or f.exclude_hash is not None:
        bad = [
            i
            for i, (p, h) in enumerate(zip(snap.files, snap.file_hashes))
            if p == f.exclude_file or h == f.exclude_hash
        ]
        if bad:
            mask &= ~np.isin(snap.file_of, bad)
    return mask


def _meter_mask(snap: Snapshot, meter: str) -> np.ndarray:
    if meter not in snap.meters:
        return np.zeros(len(snap), dtype=bool)
    return snap.meter == snap.meters.index(meter)


def _instrument_mask(snap: Snapshot, term: InstrumentTerm) -> np.ndarray:
    wanted = np.zeros(snap.programs.shape[1], dtype=bool)
    wanted[sorted(term.programs)] = True
    packed = np.packbits(wanted)
    hit = np.zeros(len(snap), dtype=bool)
    for j in np.nonzero(packed)[0]:  # a family is one byte of the 17: test only the bytes that matter
        hit |= (snap.program_bits[:, j] & packed[j]) != 0
    return hit


def constraint_checks(snap: Snapshot, c: Constraints) -> list[tuple[str, np.ndarray]]:
    """(label, satisfied) for each constraint the text states."""
    checks: list[tuple[str, np.ndarray]] = []
    if c.tonic_pc is not None:
        ok = snap.tonic_pc == c.tonic_pc
        if c.mode is not None:
            ok = ok & (snap.mode == MODE_CODES[c.mode])
        checks.append((f"key {c.key_name}", ok))
    elif c.mode is not None:
        checks.append((f"mode {c.mode}", snap.mode == MODE_CODES[c.mode]))
    if c.meter is not None:
        checks.append((f"meter {c.meter}", _meter_mask(snap, c.meter)))
    if c.tempo is not None:
        lo, hi = c.tempo
        checks.append((f"tempo {c.tempo_label}", (snap.tempo >= lo - 1e-3) & (snap.tempo <= hi + 1e-3)))
    for term in c.instruments:
        checks.append((f"instrument {term.label}", _instrument_mask(snap, term)))
    return checks


def feature_text_score(snap: Snapshot, c: Constraints) -> np.ndarray:
    """Similarity without a model, in [0, 1]: soft hints (mood -> mode, texture, dynamics, register)
    and words shared with the file name; key confidence breaks ties."""
    n = len(snap)
    parts: list[np.ndarray] = []
    if c.mood_mode is not None:
        parts.append((snap.mode == MODE_CODES[c.mood_mode]).astype(np.float32))
    if c.texture is not None:
        parts.append(np.array([t == c.texture for t in snap.texture], dtype=np.float32))
    if c.dynamics:
        parts.append(np.array([d in c.dynamics for d in snap.dynamics], dtype=np.float32))
    if c.register is not None:
        parts.append(np.array([r == c.register for r in snap.register], dtype=np.float32))
    words = {w for w in c.words if len(w) > 2}
    if words:
        per_file = np.array([_name_overlap(p, words) for p in snap.files], dtype=np.float32)
        parts.append(per_file[snap.file_of] if len(per_file) else np.zeros(n, np.float32))
    score = np.mean(parts, axis=0) if parts else np.zeros(n, dtype=np.float32)
    return 0.98 * score + 0.02 * snap.key_confidence


def _name_overlap(path: str, words: set[str]) -> float:
    name = path.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
    tokens = set(re.findall(r"[a-z]+", name))
    return len(tokens & words) / len(words)


def feature_like_score(snap: Snapshot, hist: np.ndarray, tempo: float, meter: str, programs: np.ndarray) -> np.ndarray:
    """Similarity to an example window without a model: pitch-class content, tempo, meter, instruments."""
    h = hist / max(float(np.linalg.norm(hist)), 1e-9)
    norms = np.maximum(np.linalg.norm(snap.pc_hist, axis=1), 1e-9)
    pitch = (snap.pc_hist @ h.astype(np.float32)) / norms
    tempo_sim = 1.0 / (1.0 + np.abs(np.log2(np.maximum(snap.tempo, 1.0) / max(tempo, 1.0))) * 4)
    meter_sim = _meter_mask(snap, meter).astype(np.float32)
    inter = (snap.programs & programs).sum(axis=1)
    union = np.maximum((snap.programs | programs).sum(axis=1), 1)
    return 0.6 * pitch + 0.15 * tempo_sim + 0.1 * meter_sim + 0.15 * inter / union


# Query by example, transposition-invariant: the example is searched at each of these shifts (semitones, the
# example moved up) and every window keeps its best; -5..+6 covers every pitch class once.
TRANSPOSE_SHIFTS: tuple[int, ...] = tuple(range(-5, 7))


def transposed(piece, shift: int):
    """`piece` moved `shift` semitones (drums stay; pitches stay inside 0..127 by whole octaves)."""
    if shift == 0:
        return piece
    notes = piece.notes
    pitch = notes.pitch.astype(np.int64) + np.where(notes.is_drum, 0, shift)
    pitch = np.where(pitch > 127, pitch - 12, np.where(pitch < 0, pitch + 12, pitch))
    return piece.without_key_signatures().with_notes(notes.with_(pitch=pitch.astype(notes.pitch.dtype)))


def best_shift(per_shift: np.ndarray, shifts: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(score, shift) per window from (n_shifts, n_windows) scores: the best shift, the smallest |shift| on ties."""
    order = np.argsort([abs(s) for s in shifts], kind="stable")
    best = order[np.argmax(per_shift[order], axis=0)]
    return per_shift[best, np.arange(per_shift.shape[1])], np.asarray(shifts)[best]


# Query by example ranks by the melodic match (the share of the phrase's interval n-grams a window holds, at
# its best transposition: bridge.analysis.melody) plus this much of the MIDI tower's cosine, which breaks
# ties among windows holding the same notes and carries the search when no melody matches.
MELODY_COSINE_WEIGHT = 0.1


def example_score(cosine: np.ndarray, melody: np.ndarray | None, weight: float = MELODY_COSINE_WEIGHT) -> np.ndarray:
    """One similarity in [-1, 1] for query by example: (melody + weight * cosine) / (1 + weight)."""
    if melody is None:
        return cosine
    return (melody + weight * np.clip(cosine, -1.0, 1.0)) / (1.0 + weight)


# A MIDI clip can be re-voiced in the DAW but not re-keyed without changing it, so what the text states is
# honoured in this order: key/mode, then meter, then tempo, then instruments. Any satisfied higher constraint
# outweighs every lower one together.
CONSTRAINT_ORDER = ("instrument", "tempo", "meter", "mode", "key")


def constraint_weight(label: str, checks: list[tuple[str, np.ndarray]]) -> float:
    kinds = [lbl.split(" ", 1)[0] for lbl, _ in checks]
    kind = label.split(" ", 1)[0]
    weight = 1.0
    for lower in CONSTRAINT_ORDER[: CONSTRAINT_ORDER.index(kind)]:
        weight *= kinds.count(lower) + 1
    return weight


def rank(
    snap: Snapshot, mask: np.ndarray, checks: list[tuple[str, np.ndarray]], score: np.ndarray, k: int
) -> list[Ranked]:
    """Top `k` windows: most satisfied constraints first, then `score`; overlapping windows of a file collapse."""
    if k <= 0 or not mask.any():
        return []
    satisfied = np.zeros(len(snap), dtype=np.float64)
    for label, ok in checks:
        satisfied += ok * constraint_weight(label, checks)
    # Scores lie in [-1, 1]; squeezing them into [0, 1) makes one satisfied constraint outweigh any similarity.
    key = satisfied + (np.clip(score, -1.0, 1.0) + 1.0) * 0.4999
    key = np.where(mask, key, -np.inf)
    candidates = np.nonzero(mask)[0]
    want = min(len(candidates), max(8 * k, 64))
    order = _top(key, want)
    picked = _collapse_overlaps(snap, order, k)
    if len(picked) < k and want < len(candidates):
        picked = _collapse_overlaps(snap, _top(key, len(candidates)), k)
    out = []
    for i in picked:
        matched = tuple(label for label, ok in checks if ok[i])
        missed = tuple(label for label, ok in checks if not ok[i])
        out.append(Ranked(int(i), float(score[i]), matched, missed))
    return out


def _top(key: np.ndarray, m: int) -> np.ndarray:
    if m >= len(key):
        idx = np.arange(len(key))
    else:
        idx = np.argpartition(-key, m - 1)[:m]
    idx = idx[np.isfinite(key[idx])]
    # Stable tie-break by row so equal scores keep index order (deterministic output).
    return idx[np.lexsort((idx, -key[idx]))]


def _collapse_overlaps(snap: Snapshot, order: np.ndarray, k: int) -> list[int]:
    picked: list[int] = []
    taken: dict[int, list[tuple[int, int]]] = {}
    for i in order:
        f = int(snap.file_of[i])
        a, b = int(snap.start_bar[i]), int(snap.end_bar[i])
        if any(a < tb and ta < b for ta, tb in taken.get(f, ())):
            continue
        taken.setdefault(f, []).append((a, b))
        picked.append(int(i))
        if len(picked) == k:
            break
    return picked
