"""Chord recognition by duration-weighted template matching, one window (beat, half bar) at a time.

All windows of a piece are scored at once: a (windows x 12) pitch-class weight matrix against the
(templates x 12) binary templates of qualities.py, so a 16-bar clip costs a few small matrix products.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bridge.analysis.key import KeyEstimate
from bridge.analysis.names import SHARP_NAMES, key_spelling
from bridge.analysis.qualities import KEY_CHORDS, QUALITIES, QUALITY_BY_NAME, inversion_of, template_matrix
from bridge.analysis.roman import roman_numeral
from bridge.music import NoteList


@dataclass(frozen=True)
class ChordParams:
    """Scoring weights, tuned on half of the .rntxt analyses (bench/chord_accuracy.py --tune, then a
    balance between Bach, which wants sevenths, and Monteverdi, which mostly does not)."""

    present_threshold: float = 0.04  # a template tone with less weight than this counts as missing
    missing_penalty: float = 0.15  # per missing tone, as a fraction of the template size
    seventh_penalty: float = 0.1  # a seventh chord must beat its triad by this much weight
    rare_penalty: float = 0.2  # sus2, sus4, augmented: only when clearly there (0.35 scored 1 point higher
    # on the .rntxt tuning half, whose analysts name suspensions by their resolution, but then a clean
    # doubled-root C-E-G# or C-F-G voicing no longer comes out augmented or sus4)
    bass_root_bonus: float = 0.03  # ties (sus2/sus4, aug, dim7) go to the root in the bass
    diatonic_bonus: float = 0.08  # chords that belong to the key win close calls
    bass_weight: float = 0.0  # extra weight on the bass pitch class
    bass_min_share: float = 0.25  # a note must fill this share of the window to be its bass
    offbeat_weight: float = 0.6  # weight of notes that start after the window starts (passing tones)


DEFAULT_CHORD_PARAMS = ChordParams()
_TEMPLATES = template_matrix()
_SIZES = _TEMPLATES.sum(axis=1)
_N_QUAL = len(QUALITIES)


@dataclass(frozen=True)
class ChordEvent:
    start: float  # quarters
    duration: float  # quarters
    root_pc: int
    quality: str
    bass_pc: int
    inversion: int  # 0 root position, 1 first, 2 second, 3 third inversion
    symbol: str  # "Am7/G"
    roman: str  # "v7" relative to the key; "" when no key was given

    def to_dict(self) -> dict:
        return {
            "start": round(self.start, 4),
            "duration": round(self.duration, 4),
            "root_pc": self.root_pc,
            "quality": self.quality,
            "bass_pc": self.bass_pc,
            "inversion": self.inversion,
            "symbol": self.symbol,
            "roman": self.roman,
        }


def chord_symbol(root_pc: int, quality: str, bass_pc: int, key: KeyEstimate | None = None) -> str:
    """'Am7/G': root, quality suffix, and the bass after a slash when it is not the root.

    Spelled in `key` when given (C#/E# in F# minor), with sharps otherwise."""
    names = key_spelling(key.tonic_pc, key.mode) if key is not None else SHARP_NAMES
    text = names[root_pc % 12] + QUALITY_BY_NAME[quality].suffix
    return text if bass_pc % 12 == root_pc % 12 else f"{text}/{names[bass_pc % 12]}"


@lru_cache(maxsize=16)
def _quality_prior(params: ChordParams) -> np.ndarray:
    prior = np.zeros(_N_QUAL * 12)
    for qi, q in enumerate(QUALITIES):
        penalty = params.seventh_penalty if q.is_seventh else 0.0
        if q.name in ("sus2", "sus4", "augmented"):
            penalty += params.rare_penalty
        prior[qi * 12 : (qi + 1) * 12] = -penalty
    return prior


# Chords native to each mode, as (semitones above tonic, quality): the shared table in qualities.py.
_DIATONIC = {mode: [(c.interval, c.quality) for c in chords] for mode, chords in KEY_CHORDS.items()}


def _diatonic_mask(key: KeyEstimate | None) -> np.ndarray:
    return np.zeros(_N_QUAL * 12) if key is None else _diatonic_mask_for(key.tonic_pc, key.mode)


@lru_cache(maxsize=24)
def _diatonic_mask_for(tonic_pc: int, mode: str) -> np.ndarray:
    mask = np.zeros(_N_QUAL * 12)
    index = {q.name: i for i, q in enumerate(QUALITIES)}
    for interval, quality in _DIATONIC[mode]:
        mask[index[quality] * 12 + (tonic_pc + interval) % 12] = 1.0
    return mask


def score_windows(
    weights: np.ndarray, bass_pc: np.ndarray, key: KeyEstimate | None, params: ChordParams = DEFAULT_CHORD_PARAMS
) -> np.ndarray:
    """(windows, templates) scores; `weights` is (windows, 12) duration per pitch class."""
    w = weights.astype(np.float64).copy()
    has_bass = bass_pc >= 0
    rows = np.nonzero(has_bass)[0]
    w[rows, bass_pc[rows]] += params.bass_weight * w[rows].sum(axis=1)
    total = w.sum(axis=1, keepdims=True)
    w = w / np.maximum(total, 1e-12)
    inside = w @ _TEMPLATES.T
    missing = (w < params.present_threshold).astype(np.float64) @ _TEMPLATES.T
    scores = inside - params.missing_penalty * missing / _SIZES
    scores += _quality_prior(params)
    scores += params.diatonic_bonus * _diatonic_mask(key)
    roots = np.tile(np.arange(12), _N_QUAL)
    scores += params.bass_root_bonus * (roots[None, :] == bass_pc[:, None])
    return scores


# Harmonising a bare melody: which chords of the key a tune most likely implies, as (degree, quality, prior).
_IMPLIED = {mode: [(c.interval, c.quality, c.implied) for c in chords if c.implied is not None]
            for mode, chords in KEY_CHORDS.items()}


def _implied_prior(key: KeyEstimate | None) -> np.ndarray:
    """Prior over templates for a melody alone: -inf outside the key's common chords."""
    prior = np.full(_N_QUAL * 12, -np.inf)
    index = {q.name: i for i, q in enumerate(QUALITIES)}
    if key is None:
        prior[index["major"] * 12 : index["major"] * 12 + 12] = 0.0
        prior[index["minor"] * 12 : index["minor"] * 12 + 12] = 0.0
        return prior
    for interval, quality, bonus in _IMPLIED[key.mode]:
        prior[index[quality] * 12 + (key.tonic_pc + interval) % 12] = bonus
    return prior


def score_implied(weights: np.ndarray, key: KeyEstimate | None, seventh_share: float = 0.2) -> np.ndarray:
    """(windows, templates) scores for a melody without accompaniment: the share of melody time on chord
    tones plus a functional prior (I over V over IV...). Missing chord tones cost nothing: a tune implies
    its harmony one or two notes at a time. A seventh chord must earn its seventh."""
    w = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
    scores = w @ _TEMPLATES.T + _implied_prior(key)
    sevenths = np.repeat([q.is_seventh for q in QUALITIES], 12)
    scores[:, sevenths] -= seventh_share
    return scores


def recognize_chord(
    pitches: Sequence[int] | np.ndarray,
    weights: Sequence[float] | np.ndarray | None = None,
    key: KeyEstimate | None = None,
    params: ChordParams = DEFAULT_CHORD_PARAMS,
) -> ChordEvent | None:
    """Name the chord formed by MIDI `pitches` (optionally duration `weights`); the lowest pitch is the bass."""
    pitches = np.asarray(pitches, dtype=np.int64)
    if pitches.size == 0:
        return None
    w = np.ones(pitches.size) if weights is None else np.asarray(weights, dtype=np.float64)
    profile = np.bincount(pitches % 12, weights=w, minlength=12)[None, :]
    bass = np.array([int(pitches.min()) % 12])
    scores = score_windows(profile, bass, key, params)
    return _event(int(scores[0].argmax()), int(bass[0]), 0.0, float(w.sum()), key)


def _event(template: int, bass_pc: int, start: float, duration: float, key: KeyEstimate | None) -> ChordEvent:
    qi, root = divmod(template, 12)
    quality = QUALITIES[qi].name
    inversion = inversion_of(root, quality, bass_pc)
    if inversion == 0:
        bass_pc = root  # a non-chord tone in the bass (passing note) does not make a slash chord
    roman = roman_numeral(root, quality, inversion, key.tonic_pc, key.mode) if key is not None else ""
    symbol = chord_symbol(root, quality, bass_pc, key)
    return ChordEvent(start, duration, root, quality, bass_pc, inversion, symbol, roman)


def window_profiles(
    notes: NoteList, edges: np.ndarray, bass_min_share: float = 0.25, offbeat_weight: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Per window [edges[i], edges[i+1]): duration per pitch class (W, 12), and the bass pitch class (-1: empty).

    Notes attacked inside the window (rather than sounding from its start) count `offbeat_weight` times
    their duration: in chorale textures they are mostly passing and neighbour tones."""
    n_win = len(edges) - 1
    pitched = notes.pitched()
    if n_win <= 0 or len(pitched) == 0:
        return np.zeros((max(n_win, 0), 12)), np.full(max(n_win, 0), -1)
    start, end = pitched.start, pitched.end
    first = np.clip(np.searchsorted(edges, start, side="right") - 1, 0, n_win - 1)
    last = np.clip(np.searchsorted(edges, end - 1e-9, side="left") - 1, 0, n_win - 1)
    last = np.maximum(last, first)
    counts = last - first + 1
    note_idx = np.repeat(np.arange(len(pitched)), counts)
    offsets = np.cumsum(counts) - counts
    win = first[note_idx] + (np.arange(note_idx.size) - offsets[note_idx])
    overlap = np.minimum(end[note_idx], edges[win + 1]) - np.maximum(start[note_idx], edges[win])
    keep = overlap > 1e-9
    note_idx, win, overlap = note_idx[keep], win[keep], overlap[keep]
    pitch = pitched.pitch[note_idx].astype(np.int64)
    offbeat = start[note_idx] > edges[win] + 1e-6
    weighted = np.where(offbeat, offbeat_weight * overlap, overlap)
    weights = np.bincount(win * 12 + pitch % 12, weights=weighted, minlength=n_win * 12).reshape(n_win, 12)

    # Bass: the lowest note that fills a fair share of the window; short passing notes below it don't count.
    window_len = np.diff(edges)
    substantial = overlap >= bass_min_share * window_len[win]
    bass_key = np.full(n_win, 1 << 20, dtype=np.int64)
    np.minimum.at(bass_key, win, pitch + 128 * (~substantial))
    bass = np.where(bass_key < (1 << 20), (bass_key % 128) % 12, -1)
    return weights, bass


def label_chords(
    notes: NoteList,
    edges: np.ndarray,
    key: KeyEstimate | None,
    params: ChordParams = DEFAULT_CHORD_PARAMS,
    implied: bool = False,
    sections: Sequence[tuple[float, KeyEstimate]] = (),
) -> list[ChordEvent]:
    """One chord per non-empty window, consecutive equal chords merged into one event.

    `implied=True` is for a melody alone: chords come from the key's common harmonies and are always
    in root position (a melody has no bass to invert them). `sections`: (start in quarters, key) of each
    stretch in one key, in order; a window is scored, spelled and numbered in the key of the section it
    starts in (after a modulation to the dominant, its tonic chord is "I", not "V"), `key` before the first.
    """
    weights, bass = window_profiles(notes, edges, params.bass_min_share, params.offbeat_weight)
    if weights.shape[0] == 0:
        return []
    sounding = weights.sum(axis=1) > 1e-9
    keys, key_of = window_keys(edges[:-1], key, sections)
    best = np.zeros(len(weights), dtype=np.int64)
    for k, rows in _rows_by_key(key_of):
        if implied:
            best[rows] = score_implied(weights[rows], keys[k]).argmax(axis=1)
        else:
            best[rows] = score_windows(weights[rows], np.maximum(bass[rows], 0), keys[k], params).argmax(axis=1)
    if implied:
        bass = best % 12
    events: list[ChordEvent] = []
    i, n = 0, len(best)
    while i < n:
        if not sounding[i]:
            i += 1
            continue
        j = i + 1
        while j < n and sounding[j] and best[j] == best[i] and bass[j] == bass[i] and key_of[j] == key_of[i]:
            j += 1
        event_key = keys[key_of[i]]
        events.append(_event(int(best[i]), int(bass[i]), float(edges[i]), float(edges[j] - edges[i]), event_key))
        i = j
    return events


def window_keys(
    starts: np.ndarray, key: KeyEstimate | None, sections: Sequence[tuple[float, KeyEstimate]]
) -> tuple[list[KeyEstimate | None], np.ndarray]:
    """(the keys, index into them of each window): `key`, then each section's key from its start on."""
    keys: list[KeyEstimate | None] = [key] + [k for _start, k in sections]
    key_of = np.zeros(len(starts), dtype=np.int64)
    if sections:
        bounds = np.array([start for start, _k in sections], dtype=np.float64)
        key_of = np.searchsorted(bounds, np.asarray(starts, dtype=np.float64) + 1e-9, side="right")
    return keys, key_of


def _rows_by_key(key_of: np.ndarray):
    for k in np.unique(key_of):
        yield int(k), np.nonzero(key_of == k)[0]


def progression(chords: list[ChordEvent]) -> list[str]:
    """Roman numerals with consecutive repeats collapsed: ["i", "iv", "V7", "i"]."""
    out: list[str] = []
    for c in chords:
        label = c.roman or c.symbol
        if not out or out[-1] != label:
            out.append(label)
    return out
