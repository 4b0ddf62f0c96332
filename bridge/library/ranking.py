"""Hybrid ranking over a snapshot: hard filters, then one score folding what the text states into similarity.

Order of a result list:
1. explicit filters (`--key`, `--tempo`...) remove windows outright;
2. constraints the text states ("in A minor", "3/4", "120 bpm", "Andante", "piano") are weighted so that each
   outweighs every lower one together (key > meter > tempo > instrument > its family fallback): "in A minor"
   never returns C major while A minor clips exist, yet still answers when none do;
3. preferences ("sad" -> minor, slower, softer; "lively" -> quicker) add a bounded bonus to the similarity
   (cosine to the query embedding, or without a model a feature score): they reorder, never exclude;
4. one score: (satisfied constraint weight + (similarity + bonus) in [0, 1]) / (total weight + 1), so a list
   reads best first with scores that never rise (`fold_score`); a query stating nothing keeps its raw similarity;
5. overlapping windows of one file are collapsed to the best one (hop 4 of 8 bars repeats music).
All functions are pure and vectorised over the snapshot's column arrays.
"""

from __future__ import annotations

import functools
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from bridge.library.snapshot import MODE_CODES, N_PROGRAMS, Snapshot
from bridge.query import Constraints, InstrumentTerm, Preference


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
    score: float  # fold_score: in [0, 1] when the text states anything, else the raw similarity
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
        bad = set(snap.hash_slots.get(f.exclude_hash, ())) if f.exclude_hash is not None else set()
        if f.exclude_file in snap.file_slots:
            bad.add(snap.file_slots[f.exclude_file])
        if bad:
            mask &= ~np.isin(snap.file_of, sorted(bad))
    return mask


def _meter_mask(snap: Snapshot, meter: str) -> np.ndarray:
    if meter not in snap.meters:
        return np.zeros(len(snap), dtype=bool)
    return snap.meter == snap.meters.index(meter)


def _instrument_mask(snap: Snapshot, term: InstrumentTerm) -> np.ndarray:
    wanted = np.zeros(N_PROGRAMS, dtype=bool)
    wanted[sorted(term.programs)] = True
    packed = np.packbits(wanted)
    hit = np.zeros(len(snap), dtype=bool)
    for j in np.nonzero(packed)[0]:  # a family is one byte of the 17: test only the bytes that matter
        hit |= (snap.program_bits[:, j] & packed[j]) != 0
    return hit


def constraint_checks(snap: Snapshot, c: Constraints) -> list[tuple[str, np.ndarray]]:
    """(label, satisfied) for each constraint the text states. On a large snapshot each mask is kept in a small
    LRU beside it (`cached_mask`, keyed by what the mask tests): musicians repeat keys, instruments and moods."""
    checks: list[tuple[str, np.ndarray]] = []
    if c.tonic_pc is not None:

        def key_ok() -> np.ndarray:
            ok = snap.tonic_pc == c.tonic_pc
            return ok & (snap.mode == MODE_CODES[c.mode]) if c.mode is not None else ok

        checks.append((f"key {c.key_name}", cached_mask(snap, ("key", c.tonic_pc, c.mode), key_ok)))
    elif c.mode is not None:
        checks.append((f"mode {c.mode}", cached_mask(snap, ("mode", c.mode), lambda: snap.mode == MODE_CODES[c.mode])))
    if c.meter is not None:
        checks.append((f"meter {c.meter}", cached_mask(snap, ("meter", c.meter), lambda: _meter_mask(snap, c.meter))))
    if c.tempo is not None:
        lo, hi = c.tempo
        ok = cached_mask(snap, ("tempo", lo, hi), lambda: (snap.tempo >= lo - 1e-3) & (snap.tempo <= hi + 1e-3))
        checks.append((f"tempo {c.tempo_label}", ok))
    for term in c.instruments:
        programs = frozenset(term.programs)
        exact = cached_mask(snap, ("instrument", programs), lambda term=term: _instrument_mask(snap, term))
        checks.append((f"instrument {term.label}", exact))
        if term.family:  # the labelled fallback: in the family, not the instrument asked for

            def family_ok(term=term, exact=exact) -> np.ndarray:
                return _instrument_mask(snap, InstrumentTerm(term.label, term.family)) & ~exact

            family = cached_mask(snap, ("family", programs, frozenset(term.family)), family_ok)
            checks.append((f"instrument {term.label}{FAMILY_MARK}{term.family_name})", family))
    for pref in c.preferences:
        value = tuple(pref.value) if isinstance(pref.value, (list, tuple)) else pref.value
        checks.append(
            (pref.label, cached_mask(snap, ("prefers", pref.kind, value), lambda p=pref: preference_match(snap, p)))
        )
    return checks


# Constraint masks kept per snapshot (one byte a window each: 48 MB at 1M windows at most), from this many windows
# (below it a mask costs microseconds). The snapshot is immutable and replaced at each index generation, so a
# mask can never outlive the data it was computed from.
MASK_CACHE_SIZE = 48
MASK_CACHE_MIN_WINDOWS = 16_384
_MASK_LOCK = threading.Lock()


def cached_mask(snap: Snapshot, key: tuple, compute) -> np.ndarray:
    """`compute()` (an (N,) bool mask of `snap`), kept read-only in `snap`'s LRU under `key`."""
    if len(snap) < MASK_CACHE_MIN_WINDOWS or MASK_CACHE_SIZE <= 0:
        return compute()
    cache = snap.__dict__.get("_mask_cache")
    if cache is None:
        with _MASK_LOCK:
            cache = snap.__dict__.setdefault("_mask_cache", OrderedDict())  # frozen dataclass: beside the fields
    with _MASK_LOCK:
        ok = cache.get(key)
        if ok is not None:
            cache.move_to_end(key)
            return ok
    ok = np.asarray(compute(), dtype=bool)
    ok.flags.writeable = False  # shared by every query that states the same constraint
    with _MASK_LOCK:
        cache[key] = ok
        cache.move_to_end(key)
        while len(cache) > MASK_CACHE_SIZE:
            cache.popitem(last=False)
    return ok


def clear_mask_cache(snap: Snapshot) -> None:
    """Forget `snap`'s cached constraint masks (the bench measures queries with and without them)."""
    with _MASK_LOCK:
        snap.__dict__.pop("_mask_cache", None)


FAMILY_MARK = " (matched family: "
PREFERENCE = "prefers"  # the first word of a preference's label
# How much each preference counts inside the bonus (their weighted mean), and the bonus's size beside the
# similarity mapped to [0, 1] (cosine c -> (c + 1) / 2); chosen on the natural-query set's valid split
# (models/retrieval/natural.py).
PREFERENCE_WEIGHTS = {"mode": 1.0, "tempo": 1.0, "dynamics": 0.5, "register": 0.5, "texture": 0.25}
PREFERENCE_BONUS = 0.2


def preference_match(snap: Snapshot, p: Preference) -> np.ndarray:
    """Whether each window meets a preference (bool, like every check: bridge.library.ann masks with them)."""
    if p.kind == "mode":
        return snap.mode == MODE_CODES[p.value]
    if p.kind == "tempo":
        lo, hi = p.value
        return (snap.tempo >= lo - 1e-3) & (snap.tempo <= hi + 1e-3)
    # The word columns are codes (bridge.library.snapshot): one table look-up per window, no string compared.
    return snap.word_mask(p.kind, set(p.value) if p.kind == "dynamics" else {p.value})


def check_kind(label: str) -> str:
    """key | mode | meter | tempo | instrument | family | prefers."""
    return "family" if FAMILY_MARK in label else label.split(" ", 1)[0]


def _preference_weight(label: str) -> float:
    return PREFERENCE_WEIGHTS.get(label.split(" ", 2)[1], 0.5)


def fold_score(score: np.ndarray, checks: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """The one score a list is ordered by (module docstring, point 4)."""
    if not checks:
        return np.asarray(score, dtype=np.float64)
    inner = (np.clip(np.asarray(score, dtype=np.float64), -1.0, 1.0) + 1.0) / 2.0
    soft, soft_total, hard, hard_total = _fold_plan(tuple(lbl for lbl, _ in checks))
    if soft:
        bonus = sum(w * np.asarray(checks[i][1], dtype=np.float64) for i, w in soft) / soft_total
        inner = (inner + PREFERENCE_BONUS * bonus) / (1.0 + PREFERENCE_BONUS)
    if not hard:
        return inner
    satisfied = sum(w * np.asarray(checks[i][1], dtype=np.float64) for i, w in hard)
    return (satisfied + inner) / (hard_total + 1.0)


@functools.lru_cache(maxsize=256)
def _fold_plan(labels: tuple[str, ...]) -> tuple[tuple, float, tuple, float]:
    """((index, weight) of each preference, their total, (index, weight) of each hard check, their total) for
    checks labelled `labels`: `fold_score` runs several times a query (each pattern's bounds, each scored
    batch), the weights depend only on the labels."""
    kinds = [check_kind(label) for label in labels]
    soft = tuple(
        (i, _preference_weight(label)) for i, (label, kind) in enumerate(zip(labels, kinds)) if kind == PREFERENCE
    )
    named = [(label, None) for label in labels]  # constraint_weight reads the labels only
    hard = tuple(
        (i, constraint_weight(label, named)) for i, (label, kind) in enumerate(zip(labels, kinds)) if kind != PREFERENCE
    )
    return soft, sum(w for _i, w in soft), hard, sum(w for _i, w in hard)


def matched_missed(checks: list[tuple[str, np.ndarray]], i: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What window `i` satisfies and misses; a family fallback appears only when it matched, and then stands
    in for the instrument (which is not listed as missed)."""
    matched, missed = [], []
    fell_back = set()
    for label, ok in checks:
        if check_kind(label) == "family" and ok[i]:
            fell_back.add(label.split(FAMILY_MARK, 1)[0])
    for label, ok in checks:
        kind = check_kind(label)
        if ok[i]:
            matched.append(label)
        elif kind != "family" and label not in fell_back:
            missed.append(label)
    return tuple(matched), tuple(missed)


def feature_text_score(snap: Snapshot, c: Constraints) -> np.ndarray:
    """Similarity without a model, in [0, 1]: words shared with the file name; key confidence breaks ties.
    (Preferences, such as mood -> mode, reach the ranking as bonuses in `fold_score`, with or without a model.)"""
    n = len(snap)
    parts: list[np.ndarray] = []
    words = {w for w in c.words if len(w) > 2}
    if words:
        per_file = name_overlap(snap, words)
        parts.append(per_file[snap.file_of] if len(per_file) else np.zeros(n, np.float32))
    score = np.mean(parts, axis=0) if parts else np.zeros(n, dtype=np.float32)
    return 0.98 * score + 0.02 * snap.key_confidence


def _name_overlap(path: str, words: set[str]) -> float:
    """The share of `words` among the file name's words (the definition `name_overlap` vectorises)."""
    return len(name_tokens(path) & words) / len(words)


def name_tokens(path: str) -> set[str]:
    name = path.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
    return set(re.findall(r"[a-z]+", name))


def name_overlap(snap: Snapshot, words: set[str]) -> np.ndarray:
    """(files,) float32 `_name_overlap` of every file name, from the snapshot's token table (built once)."""
    index, file_idx, token_idx = snap.name_token_table(name_tokens)
    wanted = np.array(sorted(index[w] for w in words if w in index), dtype=np.int64)
    counts = np.bincount(file_idx[np.isin(token_idx, wanted)], minlength=len(snap.files))
    return (counts / len(words)).astype(np.float32)


def feature_like_score(snap: Snapshot, hist: np.ndarray, tempo: float, meter: str, programs: np.ndarray) -> np.ndarray:
    """Similarity to an example window without a model: pitch-class content, tempo, meter, instruments."""
    h = hist / max(float(np.linalg.norm(hist)), 1e-9)
    norms = np.maximum(np.linalg.norm(snap.pc_hist, axis=1), 1e-9)
    pitch = (snap.pc_hist @ h.astype(np.float32)) / norms
    tempo_sim = 1.0 / (1.0 + np.abs(np.log2(np.maximum(snap.tempo, 1.0) / max(tempo, 1.0))) * 4)
    meter_sim = _meter_mask(snap, meter).astype(np.float32)
    packed = np.packbits(np.asarray(programs, dtype=bool)[:N_PROGRAMS])  # popcounts on the packed bits
    inter = np.bitwise_count(snap.program_bits & packed).sum(axis=1, dtype=np.int64)
    union = np.maximum(np.bitwise_count(snap.program_bits | packed).sum(axis=1, dtype=np.int64), 1)
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
# honoured in this order: key/mode, then meter, then tempo, then instruments, then an instrument's family.
# Any satisfied higher constraint outweighs every lower one together. Preferences weigh 0 here (whole-number
# weights: bridge.library.ann tiers by them); they count only inside `fold_score`'s bonus.
CONSTRAINT_ORDER = ("family", "instrument", "tempo", "meter", "mode", "key")


def constraint_weight(label: str, checks: list[tuple[str, np.ndarray]]) -> float:
    kinds = [check_kind(lbl) for lbl, _ in checks]
    kind = check_kind(label)
    if kind == PREFERENCE:
        return 0.0
    weight = 1.0
    for lower in CONSTRAINT_ORDER[: CONSTRAINT_ORDER.index(kind)]:
        weight *= kinds.count(lower) + 1
    return weight


def rank(
    snap: Snapshot, mask: np.ndarray, checks: list[tuple[str, np.ndarray]], score: np.ndarray, k: int
) -> list[Ranked]:
    """Top `k` windows by `fold_score` (each hit's score is that folded score, so scores never rise down the
    list); overlapping windows of a file collapse."""
    if k <= 0 or not mask.any():
        return []
    folded = fold_score(score, checks)
    key = np.where(mask, folded, -np.inf)
    candidates = np.nonzero(mask)[0]
    want = min(len(candidates), max(8 * k, 64))
    order = _top(key, want)
    picked = _collapse_overlaps(snap, order, k)
    if len(picked) < k and want < len(candidates):
        picked = _collapse_overlaps(snap, _top(key, len(candidates)), k)
    out = []
    for i in picked:
        matched, missed = matched_missed(checks, int(i))
        out.append(Ranked(int(i), float(folded[i]), matched, missed))
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
