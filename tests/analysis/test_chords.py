"""Chord recognition on hand-made voicings of every quality and inversion."""

import numpy as np
import pytest

from bridge.analysis import KeyEstimate, chord_symbol, label_chords, recognize_chord
from bridge.analysis.qualities import QUALITIES, chord_tones
from bridge.music import NoteList

SEVENTH_OR_TRIAD = [(q.name, inv) for q in QUALITIES for inv in range(len(q.intervals))]


def voicing(root_midi: int, quality: str, inversion: int) -> list[int]:
    """Close position over the chosen bass, the root doubled an octave up as in a keyboard voicing."""
    q = next(q for q in QUALITIES if q.name == quality)
    tones = [root_midi + i for i in q.intervals]
    rotated = tones[inversion:] + [t + 12 for t in tones[:inversion]]
    return rotated + [root_midi + 12 + 12 * (inversion > 0)]


@pytest.mark.parametrize("quality,inversion", SEVENTH_OR_TRIAD)
@pytest.mark.parametrize("root", [48, 53, 58])  # C, F, Bb
def test_every_quality_and_inversion(root, quality, inversion):
    chord = recognize_chord(voicing(root, quality, inversion))
    expected_root = root % 12
    if quality in ("augmented", "diminished7"):
        # Symmetric chords: any tone can be the root; the bass decides, so check the set of tones.
        assert set(chord_tones(chord.root_pc, chord.quality)) == set(chord_tones(expected_root, quality))
        assert chord.quality == quality
        return
    if quality in ("sus2", "sus4") and inversion > 0:
        # Csus2 = Gsus4 inverted: the same three tones; the bass picks the reading.
        assert set(chord_tones(chord.root_pc, chord.quality)) == set(chord_tones(expected_root, quality))
        return
    assert (chord.root_pc, chord.quality, chord.inversion) == (expected_root, quality, inversion)
    assert chord.bass_pc == chord_tones(expected_root, quality)[inversion]


def test_symbols_and_slash_bass():
    assert recognize_chord([45, 52, 57, 60, 64]).symbol == "Am"
    assert recognize_chord([43, 57, 60, 64, 67]).symbol == "Am7/G"
    assert recognize_chord([52, 60, 67, 72]).symbol == "C/E"
    assert chord_symbol(6, "dominant7", 1) == "F#7/C#"


def test_symbols_are_spelled_in_the_key():
    f_sharp_minor, b_flat_major = KeyEstimate.of(6, "minor"), KeyEstimate.of(10, "major")
    assert chord_symbol(1, "major", 5, f_sharp_minor) == "C#/E#"  # V6, leading tone in the bass
    assert chord_symbol(10, "half-diminished7", 10, b_flat_major) == "Bbm7b5"
    assert chord_symbol(3, "major", 3, b_flat_major) == "Eb"
    assert chord_symbol(8, "diminished7", 8, KeyEstimate.of(9, "minor")) == "G#dim7"
    assert chord_symbol(7, "dominant7", 11, KeyEstimate.of(0, "minor")) == "G7/B"


def test_passing_tone_does_not_change_the_chord():
    # C major held for a beat with a short D passing in the soprano.
    pitches = [48, 55, 64, 72, 74]
    weights = [1.0, 1.0, 1.0, 0.75, 0.25]
    chord = recognize_chord(pitches, weights)
    assert (chord.root_pc, chord.quality) == (0, "major")


def test_triad_without_fifth_is_still_named():
    assert recognize_chord([43, 59, 65, 67]).symbol == "G7"  # V7 without the fifth D
    assert recognize_chord([48, 64, 72]).quality == "major"  # C-E-C


def test_roman_numerals_follow_the_key():
    c_major = KeyEstimate.of(0, "major")
    a_minor = KeyEstimate.of(9, "minor")
    assert recognize_chord([43, 59, 62, 65], key=c_major).roman == "V7"
    assert recognize_chord([47, 55, 62, 65], key=c_major).roman == "V65"
    assert recognize_chord([52, 56, 59, 62], key=a_minor).roman == "V7"
    assert recognize_chord([56, 59, 62, 65], key=a_minor).roman == "vii°7"
    assert recognize_chord([45, 60, 64], key=a_minor).roman == "i"
    assert recognize_chord([48, 55, 64], key=a_minor).roman == "III"


def test_label_chords_windows_and_merging():
    # I (2 beats) - IV (1 beat) - V7 (1 beat) - I (4 beats) in C major, four voices.
    blocks = [(0, 2, [48, 64, 67, 72]), (2, 1, [53, 65, 69, 72]), (3, 1, [43, 65, 71, 74]), (4, 4, [48, 64, 67, 72])]
    notes = NoteList.from_tuples([(s, d, p) for s, d, ps in blocks for p in ps])
    chords = label_chords(notes, np.arange(0.0, 9.0), KeyEstimate.of(0, "major"))
    assert [c.roman for c in chords] == ["I", "IV", "V7", "I"]
    assert [(c.start, c.duration) for c in chords] == [(0, 2), (2, 1), (3, 1), (4, 4)]


def test_empty_input():
    assert recognize_chord([]) is None
    assert label_chords(NoteList.empty(), np.arange(0.0, 5.0), None) == []
