"""Key and mode from what sounds: duration-weighted pitch-class profiles plus where the music comes to rest.

Key signatures in the file are never looked at: they are missing or wrong in many MIDI files, and
the corpus uses this estimate to label files that have none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bridge.analysis.names import tonic_name
from bridge.music import NoteList

# Profiles indexed from the tonic. Krumhansl & Kessler (1982) probe-tone ratings, and Temperley's
# (2001, Kostka-Payne) corpus profile. Both are kept so the benchmark can mix them; on the tuning half
# Temperley's alone won (its sharper contrast between scale and chromatic tones suits sparse melodies).
KRUMHANSL_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KRUMHANSL_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
TEMPERLEY_MAJOR = np.array([0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400])
TEMPERLEY_MINOR = np.array([0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330])

MODES = ("major", "minor")


@dataclass(frozen=True)
class KeyParams:
    """Weights of the evidence, tuned on the tuning half of bench/key_accuracy.py for whole pieces and
    8-bar clips together (a clip's last note is often a half cadence, not the tonic)."""

    temperley_weight: float = 1.0  # 0 = Krumhansl-Kessler only, 1 = Temperley only
    final_weight: float = 0.15  # bonus to keys whose tonic is the final bass note
    first_weight: float = 0.1  # bonus to keys whose tonic is the first bass note
    # Bonus to the mode whose third sounds in the final sonority. Whole pieces gain a little from it, but
    # clips that stop on a half cadence (V) lose a lot, and the corpus analyses clips: off by default.
    final_chord_weight: float = 0.0
    ending_weight: float = 0.0  # weight of the last few quarters' pitch classes next to the whole piece's
    temperature: float = 0.05  # softmax temperature that turns scores into a confidence


DEFAULT_PARAMS = KeyParams()


@dataclass(frozen=True)
class KeyEstimate:
    tonic_pc: int
    tonic: str
    mode: str  # "major" | "minor"
    confidence: float  # 0..1: probability mass of the best key among the 24
    name: str  # "F# minor"

    @staticmethod
    def of(tonic_pc: int, mode: str, confidence: float = 1.0) -> KeyEstimate:
        tonic = tonic_name(tonic_pc, mode)
        return KeyEstimate(tonic_pc % 12, tonic, mode, float(confidence), f"{tonic} {mode}")

    def to_dict(self) -> dict:
        return {
            "tonic_pc": self.tonic_pc,
            "tonic": self.tonic,
            "mode": self.mode,
            "confidence": round(self.confidence, 3),
            "name": self.name,
        }


UNKNOWN_KEY = KeyEstimate.of(0, "major", 0.0)


def pitch_class_histogram(notes: NoteList) -> np.ndarray:
    """Total sounding duration (quarters) per pitch class, drums excluded."""
    pitched = notes.pitched()
    return np.bincount(pitched.pitch % 12, weights=pitched.duration, minlength=12).astype(np.float64)


def _profile_matrix(profile: np.ndarray) -> np.ndarray:
    """Row t = profile rotated so that its tonic sits on pitch class t."""
    return np.stack([np.roll(profile, t) for t in range(12)])


def _zscore_rows(m: np.ndarray) -> np.ndarray:
    m = m - m.mean(axis=-1, keepdims=True)
    return m / np.maximum(np.linalg.norm(m, axis=-1, keepdims=True), 1e-12)


def _profiles(temperley_weight: float) -> np.ndarray:
    """(2, 12, 12): [mode, tonic, pc] normalised profile rows, ready for correlation by dot product."""
    out = []
    for kk, tp in ((KRUMHANSL_MAJOR, TEMPERLEY_MAJOR), (KRUMHANSL_MINOR, TEMPERLEY_MINOR)):
        mixed = (1 - temperley_weight) * _zscore_rows(kk) + temperley_weight * _zscore_rows(tp)
        out.append(_zscore_rows(_profile_matrix(mixed)))
    return np.stack(out)


_PROFILE_CACHE: dict[float, np.ndarray] = {}


def _cached_profiles(temperley_weight: float) -> np.ndarray:
    if temperley_weight not in _PROFILE_CACHE:
        _PROFILE_CACHE[temperley_weight] = _profiles(temperley_weight)
    return _PROFILE_CACHE[temperley_weight]


ENDING_QUARTERS = 4.0  # the stretch before the last note that counts as "the ending"


@dataclass(frozen=True)
class KeyFeatures:
    """What key finding looks at, extracted once so that many parameter settings can be scored fast."""

    histogram: np.ndarray  # (12,) sounding duration per pitch class
    ending: np.ndarray  # (12,) the same over the last ENDING_QUARTERS
    first_bass: int  # pitch class of the lowest note of the first onset
    final_bass: int  # pitch class of the lowest note of the final sonority
    final_third: int  # +1: only the major third above final_bass sounds at the end; -1: only the minor; 0


def key_features(notes: NoteList) -> KeyFeatures | None:
    pitched = notes.pitched()
    if len(pitched) == 0:
        return None
    hist = pitch_class_histogram(pitched)
    end = pitched.end
    tail_start = end.max() - ENDING_QUARTERS
    tail = np.clip(end - np.maximum(pitched.start, tail_start), 0.0, None)
    ending = np.bincount(pitched.pitch % 12, weights=tail, minlength=12).astype(np.float64)

    first_bass = int(pitched.pitch[pitched.start <= pitched.start.min() + 1e-6].min()) % 12
    last_onset = pitched.start.max()
    # Notes still sounding at the last onset make the final sonority (held notes in other voices count).
    final_pitches = pitched.pitch[(pitched.start >= last_onset - 1e-6) | (end > last_onset + 1e-6)]
    final_bass = int(final_pitches.min()) % 12
    pcs = {int(p) % 12 for p in final_pitches}
    major, minor = (final_bass + 4) % 12 in pcs, (final_bass + 3) % 12 in pcs
    return KeyFeatures(hist, ending, first_bass, final_bass, int(major) - int(minor))


def score_keys(
    histogram: np.ndarray,
    ending: np.ndarray,
    first_bass: np.ndarray,
    final_bass: np.ndarray,
    final_third: np.ndarray,
    params: KeyParams = DEFAULT_PARAMS,
) -> np.ndarray:
    """(N, 2, 12) scores per [piece, mode, tonic] for N pieces' features stacked along the first axis."""
    h = _unit(histogram) + params.ending_weight * _unit(ending)
    h = h - h.mean(axis=1, keepdims=True)
    h = h / np.maximum(np.linalg.norm(h, axis=1, keepdims=True), 1e-12)
    scores = np.einsum("mtp,np->nmt", _cached_profiles(params.temperley_weight), h)
    rows = np.arange(len(h))
    scores[rows, :, final_bass] += params.final_weight
    scores[rows, :, first_bass] += params.first_weight
    # The final sonority's third says major or minor for keys on its bass.
    scores[rows, 0, final_bass] += params.final_chord_weight * (final_third > 0)
    scores[rows, 1, final_bass] += params.final_chord_weight * (final_third < 0)
    return scores


def _unit(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(m.sum(axis=1, keepdims=True), 1e-12)


def key_scores(notes: NoteList, params: KeyParams = DEFAULT_PARAMS) -> np.ndarray:
    """(2, 12) score per [mode, tonic]: profile correlation plus the cadence bonuses."""
    f = key_features(notes)
    if f is None:
        return np.zeros((2, 12))
    return score_keys(
        f.histogram[None], f.ending[None], np.array([f.first_bass]), np.array([f.final_bass]),
        np.array([f.final_third]), params,
    )[0]  # fmt: skip


def estimate_key(notes: NoteList, params: KeyParams = DEFAULT_PARAMS) -> KeyEstimate:
    """The most likely of the 24 major/minor keys, with a softmax confidence over all of them."""
    if len(notes.pitched()) == 0:
        return UNKNOWN_KEY
    scores = key_scores(notes, params)
    flat = scores.ravel()
    best = int(flat.argmax())
    probs = np.exp((flat - flat[best]) / params.temperature)
    confidence = 1.0 / probs.sum()
    mode, tonic = divmod(best, 12)
    return KeyEstimate.of(tonic, MODES[mode], confidence)
