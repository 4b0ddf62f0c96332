"""Music analysis: pure functions over note lists (numpy only).

See docs/analysis.md for the algorithms, conventions and measured accuracy.
"""

from bridge.analysis.chords import ChordEvent, chord_symbol, label_chords, progression, recognize_chord
from bridge.analysis.instruments import InstrumentInfo, instrument_infos, program_family, program_name
from bridge.analysis.key import KeyEstimate, estimate_key
from bridge.analysis.modulation import KeyChange, KeySection, key_sections
from bridge.analysis.piece import PieceAnalysis, analyze_piece
from bridge.analysis.qualities import QUALITY_NAMES
from bridge.analysis.roman import roman_numeral
from bridge.analysis.tempo import TEMPO_WORDS, tempo_range, tempo_word
from bridge.analysis.texture import classify_texture

__all__ = [
    "QUALITY_NAMES",
    "TEMPO_WORDS",
    "ChordEvent",
    "InstrumentInfo",
    "KeyChange",
    "KeyEstimate",
    "KeySection",
    "PieceAnalysis",
    "analyze_piece",
    "chord_symbol",
    "classify_texture",
    "estimate_key",
    "instrument_infos",
    "key_sections",
    "label_chords",
    "program_family",
    "program_name",
    "progression",
    "recognize_chord",
    "roman_numeral",
    "tempo_range",
    "tempo_word",
]
