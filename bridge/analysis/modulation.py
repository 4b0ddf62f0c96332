"""Key sections: where a piece changes key (a rag's trio in the subdominant, a second theme in the dominant).

A hidden Markov model over bars, after Temperley (Music and Probability, 2007): each bar is scored
against the 24 keys by the probability of the set of pitch classes that sound in it (a pitch class is
present when it sounds for at least a tenth of the bar), with Temperley's profiles read as the chance
that each scale degree occurs. Presence is what tells a key from its neighbours: one Gb in an Ab-major
bar costs more than a whole bar of shared notes earns. A Viterbi path picks one key per bar and pays a
fixed price (in log-probability) for each change, so a new key must hold for several bars to be worth
it and a phrase cadencing in V stays in its key. Runs shorter than a minimum are merged into a
neighbour, and each section's key is then re-estimated over its own notes with `estimate_key`
(cadence bonuses included). A piece too short for two sections is one section with the whole piece's
`estimate_key`, so nothing changes for a single-key tune.

The global key of a piece is the key of the sections that cover most of its length, not the key it
happens to end in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bridge.analysis.chords import window_profiles
from bridge.analysis.key import (
    TEMPERLEY_MAJOR,
    TEMPERLEY_MINOR,
    UNKNOWN_KEY,
    KeyEstimate,
    estimate_key,
)
from bridge.music import Piece


@dataclass(frozen=True)
class SectionParams:
    """How sure the music must be before a key change is reported."""

    presence_share: float = 0.1  # a pitch class sounds in a bar when it fills this share of the bar
    change_penalty: float = 8.0  # log-probability price of a key change
    min_section_bars: int = 8  # shorter runs join a neighbour...
    min_section_quarters: float = 24.0  # ...and so do runs shorter than this (ten bars of 2/4 are too short)


DEFAULT_SECTION_PARAMS = SectionParams()

WHOLE_BONUS = 0.25  # see governing_key
OPENING_BONUS = 0.2


@dataclass(frozen=True)
class KeySection:
    start_bar: int  # 0-based index of the first bar
    end_bar: int  # exclusive
    start_q: float
    stop_q: float
    key: KeyEstimate

    def to_dict(self) -> dict:
        return {
            "first_bar": self.start_bar + 1,
            "last_bar": self.end_bar,
            "start": round(self.start_q, 3),
            "stop": round(self.stop_q, 3),
            "key": self.key.name,
            "confidence": round(self.key.confidence, 3),
        }


@dataclass(frozen=True)
class KeyChange:
    bar: int  # 1-based bar in which the new key starts
    time: float  # quarters from the start of the piece
    before: KeyEstimate
    after: KeyEstimate

    def to_dict(self) -> dict:
        return {"bar": self.bar, "beat": round(self.time, 3), "from": self.before.name, "to": self.after.name}


def key_sections(
    piece: Piece, params: SectionParams = DEFAULT_SECTION_PARAMS, whole: KeyEstimate | None = None
) -> tuple[KeySection, ...]:
    """Consecutive sections covering the piece, each in one key; adjacent sections differ in key.

    `whole` is the whole piece's `estimate_key` if the caller has it (it is the key of a one-section piece)."""
    notes = piece.notes.pitched()
    end = piece.end
    if len(notes) == 0 or end <= 0:
        return (KeySection(0, 0, 0.0, max(end, 0.0), whole or UNKNOWN_KEY),)
    starts = piece.bar_starts(until=end)
    bounds = np.append(starts, max(end, float(starts[-1]) + 1e-6))
    n_bars = len(starts)
    whole = KeySection(0, n_bars, 0.0, float(bounds[-1]), whole or estimate_key(notes))
    if n_bars < 2 * params.min_section_bars:
        return (whole,)
    path = _viterbi_path(notes, bounds, params)
    runs = _merge_short_runs(_runs(path), bounds, params)
    if len(runs) == 1:
        return (whole,)
    sections = [_section(piece, bounds, a, b) for a, b, _ in runs]
    merged = _merge_equal(piece, bounds, sections)
    return (whole,) if len(merged) == 1 else tuple(merged)


def key_changes(sections: tuple[KeySection, ...] | list[KeySection]) -> tuple[KeyChange, ...]:
    return tuple(KeyChange(b.start_bar + 1, b.start_q, a.key, b.key) for a, b in zip(sections, sections[1:]))


def governing_key(sections: tuple[KeySection, ...] | list[KeySection], whole: KeyEstimate | None = None) -> KeyEstimate:
    """The key that governs most of the piece.

    Each section key scores the share of the piece's length (quarters) its sections cover, plus
    `WHOLE_BONUS` if it is the whole piece's `estimate_key` and `OPENING_BONUS` if the piece opens in
    it: a rag that is two-thirds tonic and ends in its trio's subdominant is in its tonic, while a tune
    that is half tonic and half dominant stays where the whole-piece estimate (its cadences) puts it.
    """
    if len(sections) == 1:
        return sections[0].key
    total = max(sum(s.stop_q - s.start_q for s in sections), 1e-9)
    length: dict[tuple[int, str], float] = {}
    conf: dict[tuple[int, str], float] = {}
    for s in sections:
        k = (s.key.tonic_pc, s.key.mode)
        span = s.stop_q - s.start_q
        length[k] = length.get(k, 0.0) + span
        conf[k] = conf.get(k, 0.0) + span * s.key.confidence
    opening = (sections[0].key.tonic_pc, sections[0].key.mode)
    whole_k = (whole.tonic_pc, whole.mode) if whole is not None else None

    def score(k: tuple[int, str]) -> float:
        return length[k] / total + WHOLE_BONUS * (k == whole_k) + OPENING_BONUS * (k == opening)

    best = max(length, key=score)  # dicts keep first-seen order: exact ties go to the earliest
    return KeyEstimate.of(best[0], best[1], conf[best] / max(length[best], 1e-9))


def key_at(sections: tuple[KeySection, ...] | list[KeySection], start_q: float, stop_q: float) -> KeyEstimate:
    """The key of the section that covers most of [start_q, stop_q) (a window's key)."""
    best, best_overlap = sections[0].key, -1.0
    for s in sections:
        overlap = min(stop_q, s.stop_q) - max(start_q, s.start_q)
        if overlap > best_overlap + 1e-9:
            best, best_overlap = s.key, overlap
    return best


# ---------------------------------------------------------------- internals


def _log_profiles() -> tuple[np.ndarray, np.ndarray]:
    """(24, 12) log P(pc present | key) and log P(pc absent | key); index mode * 12 + tonic."""
    rows = np.stack([np.roll(profile, t) for profile in (TEMPERLEY_MAJOR, TEMPERLEY_MINOR) for t in range(12)])
    return np.log(rows), np.log1p(-rows)


LOG_PRESENT, LOG_ABSENT = _log_profiles()


def bar_key_scores(notes, bounds: np.ndarray, params: SectionParams = DEFAULT_SECTION_PARAMS) -> np.ndarray:
    """(bars, 24) log-probability of each bar's pitch-class set under each key; index mode * 12 + tonic."""
    hist, _ = window_profiles(notes, bounds)
    present = (hist >= params.presence_share * np.diff(bounds)[:, None]).astype(np.float64)
    return present @ LOG_PRESENT.T + (1.0 - present) @ LOG_ABSENT.T


def _viterbi_path(notes, bounds: np.ndarray, params: SectionParams) -> np.ndarray:
    scores = bar_key_scores(notes, bounds, params)
    n = len(scores)
    back = np.zeros((n, 24), dtype=np.int64)
    total = scores[0].copy()
    for i in range(1, n):
        best = int(total.argmax())
        switch = total[best] - params.change_penalty
        stay = total >= switch
        back[i] = np.where(stay, np.arange(24), best)
        total = np.where(stay, total, switch) + scores[i]
    path = np.zeros(n, dtype=np.int64)
    path[-1] = int(total.argmax())
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path


def _runs(path: np.ndarray) -> list[tuple[int, int, int]]:
    """(first bar, end bar exclusive, key index) for each run of equal keys."""
    cuts = np.flatnonzero(np.diff(path)) + 1
    edges = [0, *cuts.tolist(), len(path)]
    return [(a, b, int(path[a])) for a, b in zip(edges, edges[1:])]


def _merge_short_runs(runs, bounds: np.ndarray, params: SectionParams):
    runs = list(runs)
    while len(runs) > 1:
        quarters = [bounds[b] - bounds[a] for a, b, _ in runs]
        lengths = [b - a for a, b, _ in runs]
        i = int(np.argmin(quarters))  # the shortest run in time goes first
        if lengths[i] >= params.min_section_bars and quarters[i] >= params.min_section_quarters - 1e-9:
            i = int(np.argmin(lengths))
            if lengths[i] >= params.min_section_bars:
                break
        # Join the longer neighbour: it is the more stable of the two.
        left = quarters[i - 1] if i > 0 else -1.0
        right = quarters[i + 1] if i + 1 < len(runs) else -1.0
        j = i - 1 if left >= right else i + 1
        a, b = min(runs[i][0], runs[j][0]), max(runs[i][1], runs[j][1])
        runs[min(i, j) : max(i, j) + 1] = [(a, b, runs[j][2])]
        runs = _join_equal(runs)
    return runs


def _join_equal(runs):
    out = []
    for run in runs:
        if out and out[-1][2] == run[2]:
            out[-1] = (out[-1][0], run[1], run[2])
        else:
            out.append(run)
    return out


def _section(piece: Piece, bounds: np.ndarray, a: int, b: int) -> KeySection:
    start_q, stop_q = float(bounds[a]), float(bounds[b])
    window = piece.window(start_q, stop_q)
    return KeySection(a, b, start_q, stop_q, estimate_key(window.notes))


def _merge_equal(piece: Piece, bounds: np.ndarray, sections: list[KeySection]) -> list[KeySection]:
    """Adjacent sections that re-estimate to the same key become one (estimated again over both)."""
    out: list[KeySection] = []
    for s in sections:
        if out and (out[-1].key.tonic_pc, out[-1].key.mode) == (s.key.tonic_pc, s.key.mode):
            out[-1] = _section(piece, bounds, out[-1].start_bar, s.end_bar)
        else:
            out.append(s)
    return out
