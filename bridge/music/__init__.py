"""The one definition of music shared by runtime and training: notes, meters, MIDI files."""

from bridge.music.midi_file import MidiFileError, load_midi, piece_from_score, piece_to_score, save_midi
from bridge.music.notes import KeySignature, NoteList, Piece, TempoChange, TimeSignature

__all__ = [
    "KeySignature",
    "MidiFileError",
    "NoteList",
    "Piece",
    "TempoChange",
    "TimeSignature",
    "load_midi",
    "piece_from_score",
    "piece_to_score",
    "save_midi",
]
