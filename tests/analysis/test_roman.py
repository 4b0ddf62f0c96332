"""Roman numerals: case, marks, figures and chromatic degrees (the convention of docs/analysis.md)."""

import pytest

from bridge.analysis import roman_numeral

C, A = 0, 9


@pytest.mark.parametrize(
    "root,quality,inversion,tonic,mode,expected",
    [
        (0, "major", 0, C, "major", "I"),
        (0, "major", 1, C, "major", "I6"),
        (0, "major", 2, C, "major", "I64"),
        (2, "minor", 0, C, "major", "ii"),
        (11, "diminished", 1, C, "major", "vii°6"),
        (7, "dominant7", 0, C, "major", "V7"),
        (7, "dominant7", 1, C, "major", "V65"),
        (7, "dominant7", 2, C, "major", "V43"),
        (7, "dominant7", 3, C, "major", "V42"),
        (5, "major7", 0, C, "major", "IVM7"),
        (2, "minor7", 1, C, "major", "ii65"),
        (11, "half-diminished7", 0, C, "major", "viiø7"),
        (8, "augmented", 0, C, "major", "bVI+"),
        (10, "major", 0, C, "major", "bVII"),
        (7, "sus4", 0, C, "major", "Vsus4"),
        (9, "minor", 0, A, "minor", "i"),
        (11, "diminished", 0, A, "minor", "ii°"),
        (0, "major", 0, A, "minor", "III"),
        (4, "major", 0, A, "minor", "V"),
        (4, "minor", 0, A, "minor", "v"),
        (7, "major", 0, A, "minor", "VII"),
        (8, "diminished7", 0, A, "minor", "vii°7"),
        (5, "major", 1, A, "minor", "VI6"),
        (10, "major", 1, A, "minor", "bII6"),  # Neapolitan sixth
        (6, "half-diminished7", 0, A, "minor", "#viø7"),
    ],
)
def test_roman_numeral(root, quality, inversion, tonic, mode, expected):
    assert roman_numeral(root, quality, inversion, tonic, mode) == expected
