"""The melody line of a clip and a melodic index for query by example (pure numpy).

`skyline` takes the top voice (the highest pitch of each onset group), the line a listener follows and a
player plays back. `MelodyIndex` holds the pitch-interval 3- to 5-grams of many windows' melodies, each with
the pitch it starts on; `MelodyIndex.score` matches a played phrase's grams against every window at once
and says, per window, how much of the phrase it contains and at which transposition (the most common pitch
offset among the matched grams), which is what query by humming has always done with interval n-grams:
invariant to tempo and key by construction, robust to a few wrong notes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bridge.music import NoteList

NGRAMS = (3, 4, 5)
MERGE_SECONDS = 0.04  # onsets closer than this are one chord (a played chord spreads over ±20 ms)
SHIFTS = tuple(range(-5, 7))  # a pitch offset is reported as the shift in -5..+6 of its pitch class


def merge_quarters(bpm: float) -> float:
    """MERGE_SECONDS in quarter notes at `bpm`."""
    return MERGE_SECONDS * max(float(bpm), 1.0) / 60.0


def piece_melody(piece) -> np.ndarray:
    """The skyline pitches of a Piece, chords merged at its own (first) tempo."""
    return skyline(piece.notes, merge_quarters(piece.tempo_at(0.0)))[1]


def skyline(notes: NoteList, merge: float = merge_quarters(120.0)) -> tuple[np.ndarray, np.ndarray]:
    """(onset quarters, pitch) of the top voice: the highest pitched note of each onset group (onsets
    within `merge` quarters of the group's first; `merge_quarters(bpm)` for the piece's tempo)."""
    n = notes.pitched() if len(notes) else notes
    if not len(n):
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    order = np.argsort(n.start, kind="stable")
    start, pitch = n.start[order], n.pitch.astype(np.int64)[order]
    # A new group starts where an onset is more than `merge` after its group's first onset.
    first = np.zeros(len(start), dtype=bool)
    group_start = -np.inf
    for i, s in enumerate(start):
        if s - group_start > merge:
            first[i] = True
            group_start = s
    heads = np.nonzero(first)[0]
    return start[heads], np.maximum.reduceat(pitch, heads)


def interval_grams(pitch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hash, first pitch, n) of every interval n-gram of a melody (intervals clipped to ±12)."""
    pitch = np.asarray(pitch, dtype=np.int64)
    iv = np.clip(np.diff(pitch), -12, 12) + 12  # 0..24
    hashes, firsts, sizes = [], [], []
    for n in NGRAMS:
        m = len(iv) - n + 1
        if m <= 0:
            continue
        h = np.full(m, n, dtype=np.int64)
        for k in range(n):
            h = h * 25 + iv[k : k + m]
        hashes.append(h)
        firsts.append(pitch[:m])
        sizes.append(np.full(m, n, dtype=np.int64))
    if not hashes:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return np.concatenate(hashes), np.concatenate(firsts), np.concatenate(sizes)


def shift_of(offset: np.ndarray) -> np.ndarray:
    """A pitch offset (semitones) as the shift in -5..+6 with the same pitch class."""
    return (np.asarray(offset) + 5) % 12 - 5


@dataclass(frozen=True)
class MelodyIndex:
    """Interval n-grams of `n_windows` melodies, sorted by hash for lookup."""

    n_windows: int
    hashes: np.ndarray  # (E,) int64, sorted
    windows: np.ndarray  # (E,) int32
    pitches: np.ndarray  # (E,) int16: first pitch of the gram in that window

    @staticmethod
    def build(melodies: list[np.ndarray]) -> MelodyIndex:
        """From one pitch sequence (skyline) per window."""
        hs, ws, ps = [], [], []
        for w, pitch in enumerate(melodies):
            h, p, _ = interval_grams(pitch)
            hs.append(h)
            ps.append(p)
            ws.append(np.full(len(h), w, dtype=np.int32))
        if not hs:
            return MelodyIndex(0, np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int16))
        h, w, p = np.concatenate(hs), np.concatenate(ws), np.concatenate(ps)
        order = np.argsort(h, kind="stable")
        return MelodyIndex(len(melodies), h[order], w[order], p[order].astype(np.int16))

    def score(self, pitch: np.ndarray, transpose: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(score, shift) per window for a played melody: the share of the phrase's grams (weighted by
        length) that occur in the window at its best transposition, and that transposition as the shift
        (-5..+6) the phrase was moved to match (window ≈ phrase + shift). Without `transpose` only shift 0."""
        h, p, n = interval_grams(pitch)
        total = float(n.sum())
        table = np.zeros((self.n_windows, 12), dtype=np.float32)
        if total == 0 or not len(self.hashes):
            return table[:, 0], np.zeros(self.n_windows, dtype=np.int64)
        lo = np.searchsorted(self.hashes, h, side="left")
        hi = np.searchsorted(self.hashes, h, side="right")
        for q in np.nonzero(hi > lo)[0]:
            w = self.windows[lo[q] : hi[q]]
            col = shift_of(self.pitches[lo[q] : hi[q]].astype(np.int64) - p[q]) + 5
            # One gram of the phrase counts once per window and shift, however often the window repeats it.
            cell = np.unique(w.astype(np.int64) * 12 + col)
            table.flat[cell] += n[q]
        table /= total
        if not transpose:
            return table[:, 5], np.zeros(self.n_windows, dtype=np.int64)
        # Ties go to the smallest |shift|: columns ordered by |shift| before argmax.
        order = np.argsort(np.abs(np.asarray(SHIFTS)), kind="stable")
        best = order[np.argmax(table[:, order], axis=1)]
        return table[np.arange(self.n_windows), best], np.asarray(SHIFTS)[best]

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"n_windows": np.array([self.n_windows]), "hashes": self.hashes, "windows": self.windows,
                "pitches": self.pitches}

    @staticmethod
    def from_arrays(a) -> MelodyIndex:
        return MelodyIndex(int(a["n_windows"][0]), a["hashes"], a["windows"], a["pitches"])
