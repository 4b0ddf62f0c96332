"""Key names, modes and transposition: labels from key signatures, ABC `K:` fields and final notes."""

from __future__ import annotations

import re
from dataclasses import dataclass

SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

# Semitones of each church mode's tonic above the major (ionian) tonic of its key signature.
MODE_OFFSET = {"major": 0, "dorian": 2, "phrygian": 4, "lydian": 5, "mixolydian": 7, "minor": 9, "locrian": 11}
_MODE_ALIASES = {
    "": "major", "maj": "major", "major": "major", "ion": "major", "ionian": "major",
    "m": "minor", "min": "minor", "minor": "minor", "aeo": "minor", "aeolian": "minor",
    "dor": "dorian", "dorian": "dorian", "mix": "mixolydian", "mixolydian": "mixolydian",
    "phr": "phrygian", "phrygian": "phrygian", "lyd": "lydian", "lydian": "lydian",
    "loc": "locrian", "locrian": "locrian",
}
# Tonics spelled with flats in conventional key names (F major, Bb major, D minor, ...).
_FLAT_MAJOR_PCS = {5, 10, 3, 8, 1, 6}


@dataclass(frozen=True)
class Key:
    tonic_pc: int
    mode: str  # one of MODE_OFFSET

    @property
    def tonic(self) -> str:
        return spell(self.tonic_pc, self.mode)

    @property
    def name(self) -> str:
        return f"{self.tonic} {self.mode}"

    @property
    def major_pc(self) -> int:
        """Tonic of the major key with the same signature."""
        return (self.tonic_pc - MODE_OFFSET[self.mode]) % 12

    @property
    def is_minorish(self) -> bool:
        return self.mode in ("minor", "dorian", "phrygian", "locrian")

    def transposed(self, semitones: int) -> Key:
        return Key((self.tonic_pc + semitones) % 12, self.mode)


def spell(pc: int, mode: str = "major") -> str:
    """Conventional name of a tonic in `mode` (Bb major, C# minor, F# dorian)."""
    from bridge.analysis.names import tonic_name

    if mode in ("major", "minor"):
        return tonic_name(pc, mode)
    major_pc = (pc - MODE_OFFSET.get(mode, 0)) % 12
    return (FLAT_NAMES if major_pc in _FLAT_MAJOR_PCS else SHARP_NAMES)[pc % 12]


def key_uses_flats(key: Key) -> bool:
    from bridge.analysis.names import uses_flats

    if key.mode in ("major", "minor"):
        return uses_flats(key.tonic_pc, key.mode)
    return key.major_pc in _FLAT_MAJOR_PCS


def pc_in_key(pc: int, key: Key | None) -> str:
    """A chord root spelled the way the key spells its pitches."""
    return (FLAT_NAMES if key is not None and key_uses_flats(key) else SHARP_NAMES)[pc % 12]


def sharps_to_major_pc(sharps: int) -> int:
    return (7 * sharps) % 12


def parse_abc_key(field: str) -> tuple[Key | None, bool]:
    """Parse an ABC `K:` value; returns (key, mode_is_explicit). None for `K:none`, `HP` or garbage."""
    text = field.strip().split("%")[0].strip()
    m = re.match(r"^([A-Ga-g])([#b]?)\s*([A-Za-z]*)", text)
    if not m:
        return None, False
    letter, accidental, mode_word = m.groups()
    pc = LETTER_PC[letter.upper()] + {"#": 1, "b": -1, "": 0}[accidental]
    word = mode_word.lower()
    mode = _MODE_ALIASES.get(word) or _MODE_ALIASES.get(word[:3])
    if mode is None:
        if word in ("none", "p") or letter.upper() == "H":
            return None, False
        mode = "major"
    return Key(pc % 12, mode), bool(word)


COMMON_MODES = ("major", "minor", "dorian", "mixolydian")


def key_from_signature_and_final(major_pc: int, final_pc: int, modes: tuple[str, ...] = COMMON_MODES) -> Key:
    """The mode whose tonic is the final note within the key signature.

    Only `modes` are believed: a tune "ending" on the leading note is an open ending, not locrian, so
    any other final falls back to the signature's major key.
    """
    offset = (final_pc - major_pc) % 12
    for mode in modes:
        if MODE_OFFSET[mode] == offset:
            return Key(final_pc % 12, mode)
    return Key(major_pc % 12, "major")
