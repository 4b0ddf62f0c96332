"""Music analysis: pure functions over note lists (numpy only).

See docs/analysis.md for the algorithms, conventions and measured accuracy.
"""

from bridge.analysis.chords import ChordEvent, chord_symbol, label_chords, progression, recognize_chord
from bridge.analysis.instruments import InstrumentInfo, instrument_infos, program_family, program_name
from bridge.analysis.key import KeyEstimate, estimate_key
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
    "KeyEstimate",
    "PieceAnalysis",
    "analyze_piece",
    "chord_symbol",
    "classify_texture",
    "estimate_key",
    "instrument_infos",
    "label_chords",
    "program_family",
    "program_name",
    "progression",
    "recognize_chord",
    "roman_numeral",
    "tempo_range",
    "tempo_word",
]
