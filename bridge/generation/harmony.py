"""Chord labelling for training pairs and for `--continue`/`--harmonize`: template matching per window.

Chorales are labelled from all four voices over every beat; melody-only folk tunes per half bar against the
key's diatonic chords (DATA.md: a melody alone cannot support chromatic labels). Labels are *derived*.
"""

from __future__ import annotations

import numpy as np

from bridge.analysis import qualities as T
from bridge.analysis.qualities import MAJOR_SCALE, MINOR_SCALE, scale_pcs  # noqa: F401  (re-exported)
from bridge.generation.vocab import QUALITIES, chord_pcs

N_Q = len(QUALITIES)


def vocab_quality(name: str) -> int | None:
    """Index of a quality name (bridge.analysis.qualities) in the generation vocabulary; None if not in it."""
    return QUALITIES.index(name) if name in QUALITIES else None


def diatonic_chords(tonic_pc: int, mode: str) -> list[tuple[int, int]]:
    """(root, vocab quality) pairs a folk melody in this key is harmonised with: the chords of the shared
    table (bridge.analysis.qualities.KEY_CHORDS) that a melody implies (the common triads plus V7)."""
    out = []
    for root, name in T.diatonic_chords(tonic_pc, mode, implied_only=True):
        q = vocab_quality(name)
        if q is not None:
            out.append((root, q))
    return out


def in_key_chord(root: int, quality: int, tonic_pc: int, mode: str) -> bool:
    return set(chord_pcs(root, quality)) <= scale_pcs(tonic_pc, mode)


def _templates() -> np.ndarray:
    """(12 * N_Q, 12) binary templates of the vocabulary's qualities, row root * N_Q + quality."""
    t = np.zeros((12 * N_Q, 12))
    for r in range(12):
        for q, name in enumerate(QUALITIES):
            t[r * N_Q + q, list(T.chord_tones(r, name))] = 1.0
    return t


TEMPLATES = _templates()
# Simpler chords win ties: a triad over a seventh, major/minor over diminished/augmented.
QUALITY_PRIOR = np.array([0.0, 0.0, -0.15, -0.4, -0.1])


def window_histograms(notes: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per window [edges[i], edges[i+1]): duration-weighted pitch-class histogram (n, 12) and bass pc (-1 if silent).

    `notes` is (n, 3) [start, duration, pitch] in quarters.
    """
    n = len(edges) - 1
    hist = np.zeros((n, 12))
    bass = np.full(n, -1, dtype=np.int64)
    if len(notes) == 0 or n <= 0:
        return hist, bass
    s, d, p = notes[:, 0], notes[:, 1], notes[:, 2].astype(np.int64)
    e = s + d
    for i in range(n):
        a, b = edges[i], edges[i + 1]
        ov = np.clip(np.minimum(e, b) - np.maximum(s, a), 0, None)
        live = ov > 1e-6
        if not live.any():
            continue
        # Notes struck inside the window count more than ones held over from before it.
        w = ov[live] * np.where(s[live] >= a - 1e-6, 1.0, 0.6)
        np.add.at(hist[i], p[live] % 12, w)
        bass[i] = int(p[live].min()) % 12
    return hist, bass


def label_windows(hist: np.ndarray, bass: np.ndarray, tonic_pc: int, mode: str,
                  diatonic_only: bool) -> list[tuple[int, int, int]]:
    """(root, quality index, inversion) per window; silent windows repeat the previous chord."""
    scale = scale_pcs(tonic_pc, mode)
    allowed = np.full(12 * N_Q, -np.inf if diatonic_only else 0.0)
    for r, q in diatonic_chords(tonic_pc, mode):
        allowed[r * N_Q + q] = 0.15
    if not diatonic_only:
        for r in range(12):
            for q in range(N_Q):
                if set(chord_pcs(r, q)) <= scale:
                    allowed[r * N_Q + q] = max(allowed[r * N_Q + q], 0.1)
    out: list[tuple[int, int, int]] = []
    prev = ((tonic_pc, 0 if mode == "major" else 1))
    for h, b in zip(hist, bass):
        total = h.sum()
        if total <= 0:
            root, q = prev
        else:
            hn = h / total
            score = TEMPLATES @ hn - 0.8 * ((1 - TEMPLATES) @ hn) + np.tile(QUALITY_PRIOR, 12) + allowed
            if b >= 0:
                score[b * N_Q: b * N_Q + N_Q] += 0.12  # the bass is usually the root
            score[prev[0] * N_Q + prev[1]] += 0.05  # harmonic rhythm: prefer holding the chord
            root, q = divmod(int(np.argmax(score)), N_Q)
        tones = chord_pcs(root, q)
        inv = 0 if b < 0 or b not in tones else min(tones.index(b), 2)
        out.append((root, q, inv))
        prev = (root, q)
    return out
