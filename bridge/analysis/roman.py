"""Roman numerals relative to a key: case for quality, marks for diminished/augmented, figures for inversions.

Convention (docs/analysis.md): uppercase major-third chords, lowercase minor-third ones; "°" diminished,
"ø" half-diminished, "+" augmented, "M" on major sevenths (IM7); figured-bass inversions 6, 64 for triads
and 7, 65, 43, 42 for sevenths. Degrees are counted on the major scale in major and on the natural minor
scale in minor, with "b"/"#" for chromatic roots; in minor the leading-tone chord is "vii°" and the
subtonic "VII", as in music21's Roman-numeral texts.
"""

from __future__ import annotations

from bridge.analysis.qualities import QUALITY_BY_NAME

_NUMERALS = ("I", "II", "III", "IV", "V", "VI", "VII")

# Semitones above the tonic -> (accidental, degree index), per mode.
_MAJOR_DEGREES = {
    0: ("", 0), 1: ("b", 1), 2: ("", 1), 3: ("b", 2), 4: ("", 2), 5: ("", 3),
    6: ("#", 3), 7: ("", 4), 8: ("b", 5), 9: ("", 5), 10: ("b", 6), 11: ("", 6),
}  # fmt: skip
_MINOR_DEGREES = {
    0: ("", 0), 1: ("b", 1), 2: ("", 1), 3: ("", 2), 4: ("#", 2), 5: ("", 3),
    6: ("#", 3), 7: ("", 4), 8: ("", 5), 9: ("#", 5), 10: ("", 6), 11: ("#", 6),
}  # fmt: skip

_TRIAD_FIGURES = ("", "6", "64")
_SEVENTH_FIGURES = ("7", "65", "43", "42")


def roman_numeral(root_pc: int, quality: str, inversion: int, tonic_pc: int, mode: str) -> str:
    """'V65' for a dominant seventh on the fifth degree with its third in the bass."""
    q = QUALITY_BY_NAME[quality]
    interval = (root_pc - tonic_pc) % 12
    accidental, degree = (_MINOR_DEGREES if mode == "minor" else _MAJOR_DEGREES)[interval]
    if mode == "minor":
        accidental = _minor_accidental(interval, q.minor_case, accidental)
    numeral = _NUMERALS[degree].lower() if q.minor_case else _NUMERALS[degree]
    if q.is_seventh:
        figure = _SEVENTH_FIGURES[inversion % 4]
    else:
        figure = _TRIAD_FIGURES[inversion % 3]
    if q.name.startswith("sus"):
        # Suspensions read better as a word after the figure: "Vsus4", "V6sus4" is unusual enough to skip.
        return f"{accidental}{numeral}{q.roman_mark}"
    return f"{accidental}{numeral}{q.roman_mark}{figure}"


def _minor_accidental(interval: int, minor_case: bool, default: str) -> str:
    """Raised 6th and 7th degrees are part of minor: vii° and #vi° need no sharp on the leading tone."""
    if interval == 11:
        return "" if minor_case else "#"
    if interval == 10:
        return "b" if minor_case else ""
    return default
