"""Pitch-class spelling: one place decides between sharps and flats."""

from __future__ import annotations

from functools import lru_cache

SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")

# Conventional tonic spelling per mode: the spelling with the smaller key signature (F# over Gb, Bb over A#).
MAJOR_TONICS = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_TONICS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")


def tonic_name(tonic_pc: int, mode: str) -> str:
    return (MINOR_TONICS if mode == "minor" else MAJOR_TONICS)[tonic_pc % 12]


def uses_flats(tonic_pc: int, mode: str) -> bool:
    """Whether pitches in this key are spelled with flats (F major, C minor...) rather than sharps."""
    return "b" in tonic_name(tonic_pc, mode) or (tonic_pc % 12, mode) in _FLAT_NATURAL_TONICS


_FLAT_NATURAL_TONICS = {(5, "major"), (0, "minor"), (5, "minor"), (7, "minor"), (2, "minor")}


def pc_name(pc: int, flats: bool = False) -> str:
    return (FLAT_NAMES if flats else SHARP_NAMES)[pc % 12]


def parse_pc(name: str) -> int:
    """'F#' -> 6, 'Bb' -> 10, 'H' (German B) -> 11; raises ValueError for anything else."""
    text = name.strip()
    if not text:
        raise ValueError("empty pitch name")
    letter = text[0].upper()
    base = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11, "H": 11}.get(letter)
    if base is None:
        raise ValueError(f"not a pitch name: {name!r}")
    offset = 0
    for ch in text[1:]:
        if ch in "#♯":
            offset += 1
        elif ch in "b♭":
            offset -= 1
        else:
            raise ValueError(f"not a pitch name: {name!r}")
    return (base + offset) % 12


_LETTERS = "CDEFGAB"
_LETTER_PCS = (0, 2, 4, 5, 7, 9, 11)
# Scale steps (degree, semitones above the tonic) spelled with the key's own letters; minor adds its raised
# sixth and seventh so that the leading tone of F# minor is E#, not F.
_SCALES = {
    "major": ((0, 0), (1, 2), (2, 4), (3, 5), (4, 7), (5, 9), (6, 11)),
    "minor": ((0, 0), (1, 2), (2, 3), (3, 5), (4, 7), (5, 8), (6, 10), (6, 11), (5, 9)),
}


@lru_cache(maxsize=48)
def key_spelling(tonic_pc: int, mode: str) -> tuple[str, ...]:
    """Names of the 12 pitch classes in a key: scale tones by the key's letters, the rest by its accidentals."""
    tonic = tonic_name(tonic_pc, mode)
    first = _LETTERS.index(tonic[0])
    names = list(FLAT_NAMES if uses_flats(tonic_pc, mode) else SHARP_NAMES)
    for degree, semitones in _SCALES[mode]:
        pc = (tonic_pc + semitones) % 12
        letter = (first + degree) % 7
        offset = (pc - _LETTER_PCS[letter] + 6) % 12 - 6  # -2..+2 in practice
        names[pc] = _LETTERS[letter] + ("#" * offset if offset > 0 else "b" * -offset)
    return tuple(names)
