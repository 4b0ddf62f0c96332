"""Tempo and beat of a played phrase from its onsets (bridge.analysis.beat)."""

from __future__ import annotations

import numpy as np
import pytest

from bridge.analysis.beat import estimate_beat, merge_onsets, note_weights, phrase_quarters

MIXED = [0, 1, 1.5, 2, 3, 4, 4.5, 5, 5.5, 6, 8, 9, 10, 10.5, 11, 12, 13, 13.5, 14, 15]  # quarters
DOTTED = [0, 1.5, 2, 3, 3.5, 4, 5.5, 6, 7, 8, 9.5, 10, 11, 11.5, 12]
WALTZ = [0, 1, 2, 3, 3.5, 4, 5, 6, 7, 8, 9, 9.5, 10, 11, 12]


def played(beats, bpm, jitter=0.0, seed=0, offset=0.0):
    rng = np.random.default_rng(seed)
    b = np.asarray(beats, dtype=float)
    return offset + b * 60.0 / bpm + rng.uniform(-jitter, jitter, len(b))


def close(a, b, tol=0.03):
    return abs(np.log(a / b)) <= np.log(1 + tol)


CASES = [(MIXED, bpm) for bpm in (62, 75, 90, 108, 120, 135)] + [(WALTZ, bpm) for bpm in (66, 84, 100, 126, 150)]
# A slow dotted rhythm is heard as a pulse of eighths (62 dotted = 124 straight): only from 90 on.
CASES += [(DOTTED, bpm) for bpm in (90, 108, 120, 135)]


@pytest.mark.parametrize(("rhythm", "bpm"), CASES)
def test_humanised_rhythms_give_their_tempo(rhythm, bpm):
    est = estimate_beat(played(rhythm, bpm, jitter=0.02, seed=bpm))
    assert est.estimated
    assert close(est.bpm, bpm), (est.bpm, bpm)
    assert est.confidence > 0.7


@pytest.mark.parametrize("bpm", [60, 100, 150])
def test_steady_quarters_are_exact_and_on_the_grid(bpm):
    est = estimate_beat(played(range(12), bpm))
    assert est.bpm == pytest.approx(bpm, rel=1e-6)
    assert est.phase == pytest.approx(0.0, abs=1e-9)
    start, dur = phrase_quarters(played(range(12), bpm), np.full(12, 30.0 / bpm), est)
    assert start.tolist() == [float(i) for i in range(12)] and dur.tolist() == [0.5] * 12


def test_octave_preference_brings_fast_pulses_into_60_160():
    # Straight quarters at 200 BPM are heard as a beat of 100; eighths at 90 stay a beat of 90, not 180.
    assert close(estimate_beat(played(range(24), 200)).bpm, 100)
    assert close(estimate_beat(played(np.arange(32) * 0.5, 90)).bpm, 90)
    # Nothing between the notes of a slow pulse supports its double: it stays where it is.
    assert close(estimate_beat(played(range(8), 50)).bpm, 50)


def test_phase_is_the_beat_of_the_first_onset_wherever_the_phrase_starts():
    est = estimate_beat(played(MIXED, 96, offset=3.7))
    assert est.phase == pytest.approx(3.7, abs=0.01)
    start, _ = phrase_quarters(played(MIXED, 96, offset=3.7), np.full(len(MIXED), 0.2), est)
    np.testing.assert_allclose(start, MIXED, atol=0.01)


def test_chords_count_once_and_heavier():
    beats = np.repeat(np.arange(12.0), 3)  # three-note chords, rolled over 20 ms
    onsets = played(beats, 84) + np.tile([0.0, 0.01, 0.02], 12)
    times, weights = merge_onsets(onsets, np.ones(len(onsets)))
    assert len(times) == 12 and weights.tolist() == [3.0] * 12
    assert close(estimate_beat(onsets).bpm, 84)


def test_long_notes_mark_the_beat_in_straight_eighths():
    # Straight eighths at 140 (a beat of 140 or 70?): the long, loud notes every other eighth decide.
    onsets = played(np.arange(32) * 0.5, 140)
    dur = np.where(np.arange(32) % 2 == 0, 0.4, 0.1)
    vel = np.where(np.arange(32) % 2 == 0, 100, 60)
    est = estimate_beat(onsets, note_weights(dur, vel))
    assert close(est.bpm, 140)


def test_too_few_onsets_fall_back_without_pretending():
    est = estimate_beat([0.0, 0.5], default_bpm=97.0)
    assert not est.estimated and est.bpm == 97.0 and est.phase == 0.0
    assert not estimate_beat([]).estimated
    assert not estimate_beat([1.0, 1.01, 1.02]).estimated  # one chord


def test_bad_input_names_what_is_wrong():
    with pytest.raises(ValueError, match="tempo range must be 1 <= min_bpm < max_bpm <= 1000"):
        estimate_beat([0, 1, 2], min_bpm=200, max_bpm=100)
    with pytest.raises(ValueError, match="weights must have one value per onset"):
        estimate_beat([0, 1, 2], [1, 1])
    with pytest.raises(ValueError, match="onsets must be finite"):
        estimate_beat([0, float("nan"), 2])
    with pytest.raises(ValueError, match="preferred range must lie inside"):
        estimate_beat([0, 1, 2], prefer=(30, 100))
