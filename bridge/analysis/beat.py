"""Tempo and beat of a played phrase, from its onsets alone (no clock, no score).

`estimate_beat(onsets)` takes onset times in seconds and returns the beat period, its phase and the tempo
in BPM. The method is the classic one for symbolic onsets:

1. Onsets closer than 35 ms merge into one event (a chord, or a rolled one), weighted by how many notes
   and how long they sound: long notes fall on beats more often than short ones.
2. An onset autocorrelation: every pair of events `lag` seconds apart adds a Gaussian (σ 20 ms plus 2 %
   of the lag, so onset jitter and a little rubato still line up) at that lag.
3. For each candidate period between `min_bpm` and `max_bpm` (1 % steps), a comb over its first four
   multiples, each lag normalised by how much of the phrase can hold a pair that far apart: the period
   whose multiples recur most is the beat. Its score is multiplied by a prior, flat inside `prefer`
   (60..160 BPM) and falling off outside it (0.5 octave), and by the square root of the share of onset
   weight on its beats, which breaks the ties no autocorrelation can (a pulse and its double recur
   alike; the faster one has more notes on its beats).
4. Octave-error preference: a winner still outside `prefer` gives way to its half or double inside that
   range when that one scores at least half as well, else to its third or triple.
   Straight eighths at 120 and straight quarters at 240 remain the same rhythm: the estimate is the beat a
   listener would most likely tap, which can be half or double the written one (measured on played corpus
   excerpts: the played tempo in about 2 of 3 phrases, half or double in 1 of 5).
5. The phase is the weighted circular mean of the first events on that period; period and phase are
   then fitted by least squares of the on-beat events against their beat numbers, over a span that
   doubles each round (the 1 % candidate grid would otherwise drift a long phrase off its beats).

`phrase_quarters` re-expresses onsets in the phrase's own beats (quarter notes at the estimated tempo).
Pure functions over numpy arrays; docs/protocol.md (Query by playing) says how the daemon uses them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_BPM = 40.0
MAX_BPM = 240.0
PREFER_BPM = (60.0, 160.0)
DEFAULT_BPM = 120.0
MERGE_SECONDS = 0.035
PRIOR_OCTAVES = 0.5  # how fast (standard deviation, in octaves) the prior falls outside the preferred range
COMB_MULTIPLES = 4
COVERAGE_POWER = 0.5  # how much notes on the beat count against how regularly the beat recurs
MAX_EVENTS = 1024  # the last this many events decide the beat of a very long phrase


@dataclass(frozen=True)
class BeatEstimate:
    bpm: float
    period: float  # seconds per beat
    phase: float  # seconds: a beat time, the last one at or just before the first onset
    confidence: float  # 0..1: share of the onset weight on the grid (beats, halves, thirds, quarters)
    events: int  # onset events used (after merging chords)
    estimated: bool  # False: too few onsets, `bpm` is the fallback

    def quarters(self, seconds: np.ndarray | float) -> np.ndarray:
        """Seconds -> beats since the phrase's first beat (`phase`)."""
        return (np.asarray(seconds, dtype=np.float64) - self.phase) / self.period


def _check_range(min_bpm: float, max_bpm: float, prefer: tuple[float, float] | None) -> None:
    if not (1.0 <= min_bpm < max_bpm <= 1000.0):
        raise ValueError(f"tempo range must be 1 <= min_bpm < max_bpm <= 1000, got {min_bpm}..{max_bpm}")
    if prefer is not None and not (min_bpm <= prefer[0] < prefer[1] <= max_bpm):
        raise ValueError(f"preferred range must lie inside {min_bpm}..{max_bpm} with lo < hi, got {prefer}")


def merge_onsets(onsets: np.ndarray, weights: np.ndarray, tolerance: float = MERGE_SECONDS
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Sorted onset events: onsets within `tolerance` of the group's first become one (weights add)."""
    order = np.argsort(onsets, kind="stable")
    o, w = onsets[order], weights[order]
    times: list[float] = []
    mass: list[float] = []
    for t, x in zip(o, w):
        if times and t - times[-1] <= tolerance:
            mass[-1] += x
        else:
            times.append(float(t))
            mass.append(float(x))
    return np.asarray(times), np.asarray(mass)


def _autocorrelation(o: np.ndarray, w: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Σ over event pairs of w_i w_j N(o_j - o_i; lag, σ(lag)), normalised by the span that can hold the lag."""
    span = float(o[-1] - o[0])
    max_lag = float(lags.max())
    sigma = 0.02 + 0.02 * lags
    out = np.zeros(len(lags))
    reach = max_lag + 3 * float(sigma.max())
    for i in range(len(o) - 1):
        j = np.arange(i + 1, np.searchsorted(o, o[i] + reach, side="right"))
        if not len(j):
            continue
        d = o[j] - o[i]
        out += (w[i] * w[j]) @ np.exp(-0.5 * ((d[:, None] - lags[None, :]) / sigma[None, :]) ** 2)
    # A lag close to the phrase's length has few chances to occur: compare lags per second of room.
    room = np.maximum(span - lags, 0.25 * span) + 1e-9
    return out / room


def _comb(o: np.ndarray, w: np.ndarray, periods: np.ndarray) -> np.ndarray:
    ks = np.arange(1, COMB_MULTIPLES + 1)
    lags = (periods[:, None] * ks[None, :]).ravel()
    a = _autocorrelation(o, w, lags).reshape(len(periods), COMB_MULTIPLES)
    span = float(o[-1] - o[0])
    usable = periods[:, None] * ks[None, :] <= span + 1e-9  # multiples longer than the phrase say nothing
    counted = np.maximum(usable.sum(axis=1), 1)
    return (a * usable).sum(axis=1) / counted


def _phase(o: np.ndarray, w: np.ndarray, period: float) -> float:
    theta = 2 * np.pi * o / period
    angle = np.arctan2(float((w * np.sin(theta)).sum()), float((w * np.cos(theta)).sum()))
    return float(angle / (2 * np.pi) * period)


def _on_beat(o: np.ndarray, w: np.ndarray, period: float) -> float:
    """Share of the onset weight within 10 % of a beat of `period` (at its best phase)."""
    pos = (o - _phase(o, w, period)) / period
    return float((w * (np.abs(pos - np.round(pos)) < 0.1)).sum() / w.sum())


def _refine(o: np.ndarray, w: np.ndarray, period: float) -> tuple[float, float]:
    """Period and phase by least squares o ≈ phase + n·period over the events within 15 % of a beat,
    starting with the first 8 beats and doubling the span each round, so that the candidate grid's 1 %
    error cannot drift the later notes onto the wrong beat (the period stays within ±6 %)."""
    span = 8.0
    phase = _phase(o[o <= o[0] + span * period], w[o <= o[0] + span * period], period)
    for _ in range(12):
        sel = o <= o[0] + span * period
        period, phase = _fit(o[sel], w[sel], period, phase)
        if sel.all():
            break
        span *= 2
    return period, phase


def _fit(o: np.ndarray, w: np.ndarray, period: float, phase: float) -> tuple[float, float]:
    pos = (o - phase) / period
    n = np.round(pos)
    on = np.abs(pos - n) < 0.15
    if on.sum() < 3 or len(np.unique(n[on])) < 3:
        return period, phase
    sw = np.sqrt(w[on])
    a = np.stack([np.ones(int(on.sum())), n[on]], axis=1) * sw[:, None]
    (p0, per), *_ = np.linalg.lstsq(a, o[on] * sw, rcond=None)
    if not (0.94 * period <= per <= 1.06 * period):
        return period, phase
    return float(per), float(p0)


def _confidence(o: np.ndarray, w: np.ndarray, period: float, phase: float) -> float:
    pos = (o - phase) / period
    on = np.zeros(len(o), dtype=bool)
    for div in (1, 2, 3, 4):
        x = pos * div
        on |= np.abs(x - np.round(x)) < 0.15
    return float((w * on).sum() / max(float(w.sum()), 1e-12))


def estimate_beat(
    onsets,
    weights=None,
    *,
    min_bpm: float = MIN_BPM,
    max_bpm: float = MAX_BPM,
    prefer: tuple[float, float] | None = PREFER_BPM,
    default_bpm: float = DEFAULT_BPM,
) -> BeatEstimate:
    """The beat grid (tempo in `min_bpm..max_bpm`) that best explains onsets given in seconds.

    `weights` (same length, > 0) says how much each onset counts: e.g. longer and louder notes more.
    With fewer than three distinct onset events the tempo cannot be heard: `default_bpm` comes back
    with `estimated=False`.
    """
    _check_range(min_bpm, max_bpm, prefer)
    o = np.asarray(onsets, dtype=np.float64).ravel()
    if not np.all(np.isfinite(o)):
        raise ValueError("onsets must be finite numbers of seconds")
    w = np.ones_like(o) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w.shape != o.shape:
        raise ValueError(f"weights must have one value per onset ({len(o)}), got {len(w)}")
    if len(w) and (not np.all(np.isfinite(w)) or w.min() <= 0):
        raise ValueError("weights must be finite and > 0")
    if len(o) == 0:
        return BeatEstimate(float(default_bpm), 60.0 / default_bpm, 0.0, 0.0, 0, False)
    o, w = merge_onsets(o, w)
    if len(o) > MAX_EVENTS:
        o, w = o[-MAX_EVENTS:], w[-MAX_EVENTS:]
    first = float(o[0])
    if len(o) < 3 or o[-1] - o[0] < 60.0 / max_bpm:
        return BeatEstimate(float(default_bpm), 60.0 / default_bpm, first, 0.0, len(o), False)
    w = w / w.mean()
    bpms = np.exp(np.arange(np.log(min_bpm), np.log(max_bpm) + 1e-9, np.log(1.01)))
    periods = 60.0 / bpms
    raw = _comb(o, w, periods)
    if raw.max() <= 0:
        return BeatEstimate(float(default_bpm), 60.0 / default_bpm, first, 0.0, len(o), False)
    # Flat inside the preferred range, falling off outside it; and among periods whose multiples recur
    # alike (a pulse and its double), the one with more of the notes on its beats.
    lo, hi = prefer if prefer is not None else (min_bpm, max_bpm)
    outside = np.maximum(np.log2(lo / bpms), 0) + np.maximum(np.log2(bpms / hi), 0)
    prior = np.exp(-0.5 * (outside / PRIOR_OCTAVES) ** 2)
    coverage = np.array([_on_beat(o, w, float(t)) for t in periods])
    best = int(np.argmax(raw * prior * coverage ** COVERAGE_POWER))
    if prefer is not None and not (prefer[0] <= bpms[best] <= prefer[1]):
        best = _prefer_octave(bpms, raw, best, prefer)
    period, phase = _refine(o, w, float(periods[best]))
    # The grid's origin: the beat at (or within 15 % of a beat after) the first onset.
    k = np.floor((first - phase) / period + 0.15)
    origin = phase + k * period
    bpm = float(np.clip(60.0 / period, min_bpm, max_bpm))
    return BeatEstimate(bpm, 60.0 / bpm, float(origin), _confidence(o, w, period, origin), len(o), True)


def _prefer_octave(bpms: np.ndarray, raw: np.ndarray, best: int, prefer: tuple[float, float]) -> int:
    """The winner's half or double inside `prefer` if it scores at least half as well, else its third or
    triple; binary relatives first, since most music divides its beat in two."""
    for ratios in ((2.0, 0.5), (3.0, 1.0 / 3.0)):
        choice, choice_score = best, -1.0
        for ratio in ratios:
            target = bpms[best] * ratio
            if not (prefer[0] <= target <= prefer[1]):
                continue
            near = np.nonzero(np.abs(np.log(bpms / target)) <= np.log(1.03))[0]
            if not len(near):
                continue
            j = int(near[np.argmax(raw[near])])
            if raw[j] >= 0.5 * raw[best] and raw[j] > choice_score:
                choice, choice_score = j, float(raw[j])
        if choice != best:
            return choice
    return best


def note_weights(durations_s, velocities) -> np.ndarray:
    """How much a played note counts for the beat: longer (up to 2 s) and louder notes more."""
    d = np.clip(np.asarray(durations_s, dtype=np.float64), 0.05, 2.0)
    v = np.clip(np.asarray(velocities, dtype=np.float64), 1, 127)
    return np.sqrt(d / 0.25) * (0.5 + v / 127.0)


def phrase_quarters(onsets_s, durations_s, beat: BeatEstimate, resolution: float = 1e-6
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Start and duration of each note in the phrase's own beats (quarter notes at `beat.bpm`), the first
    beat at 0; rounded to `resolution` of a beat so exact performances give exact numbers."""
    start = np.maximum(beat.quarters(onsets_s), 0.0)
    dur = np.asarray(durations_s, dtype=np.float64) / beat.period
    return np.round(start / resolution) * resolution, np.round(dur / resolution) * resolution
