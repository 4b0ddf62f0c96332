"""`analyze_piece`: every descriptor of a piece in one frozen, JSON-ready record."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.analysis.chords import ChordEvent, label_chords, progression
from bridge.analysis.descriptors import dynamics_word, mean_pitch, mean_velocity, register_word
from bridge.analysis.instruments import InstrumentInfo, instrument_infos
from bridge.analysis.key import KeyEstimate, estimate_key
from bridge.analysis.meter import bar_count, main_time_signature, subdivided_bar_grid
from bridge.analysis.modulation import KeyChange, KeySection, governing_key, key_changes, key_sections
from bridge.analysis.tempo import main_tempo, tempo_word
from bridge.analysis.texture import classify_texture
from bridge.music import Piece


@dataclass(frozen=True)
class PieceAnalysis:
    key: KeyEstimate
    tempo_bpm: float
    tempo_word: str
    time_signature: str
    instruments: tuple[InstrumentInfo, ...]
    bars: float
    seconds: float
    note_density: float  # notes per second, drums included
    pitch_low: int
    pitch_high: int
    register: str
    mean_velocity: float
    dynamics: str
    texture: str
    chords: tuple[ChordEvent, ...]
    progression: tuple[str, ...]
    key_sections: tuple[KeySection, ...] = ()  # one per stretch in one key; `key` governs most of them
    key_changes: tuple[KeyChange, ...] = ()

    def to_dict(self) -> dict:
        return {
            "key": self.key.to_dict(),
            "tempo_bpm": round(self.tempo_bpm, 2),
            "tempo_word": self.tempo_word,
            "time_signature": self.time_signature,
            "instruments": [i.to_dict() for i in self.instruments],
            "bars": round(self.bars, 3),
            "seconds": round(self.seconds, 3),
            "note_density": round(self.note_density, 3),
            "pitch_low": self.pitch_low,
            "pitch_high": self.pitch_high,
            "register": self.register,
            "mean_velocity": round(self.mean_velocity, 2),
            "dynamics": self.dynamics,
            "texture": self.texture,
            "chords": [c.to_dict() for c in self.chords],
            "progression": list(self.progression),
            "key_changes": [c.to_dict() for c in self.key_changes],
            "key_sections": [s.to_dict() for s in self.key_sections],
        }


def numbering_sections(sections) -> list[tuple[float, KeyEstimate]]:
    """(start in quarters, key) of the sections chords are labelled in: each key section labels its own (Roman
    numerals against the key in force, not the piece's); a piece in one key, its key."""
    return [(sec.start_q, sec.key) for sec in sections] if len(sections) > 1 else []


def analyze_piece(piece: Piece, with_chords: bool = True) -> PieceAnalysis:
    """Describe `piece` from its notes and tempo/meter maps; key signatures are ignored."""
    notes = piece.notes
    pitched = notes.pitched()
    whole_key = estimate_key(notes)
    sections = key_sections(piece, whole=whole_key)
    key = governing_key(sections, whole_key)
    texture = classify_texture(notes)
    chords: list[ChordEvent] = []
    if with_chords and len(pitched):
        # A lone melody implies its harmony over longer spans than a chorale states it.
        melody_only = texture == "monophonic"
        grid = subdivided_bar_grid(piece, "half_bar" if melody_only else "beat")
        chords = label_chords(pitched, grid, key, implied=melody_only, sections=numbering_sections(sections))
    bpm = main_tempo(piece)
    seconds = piece.duration_seconds
    velocity = mean_velocity(notes)
    return PieceAnalysis(
        key=key,
        tempo_bpm=bpm,
        tempo_word=tempo_word(bpm),
        time_signature=str(main_time_signature(piece)),
        instruments=tuple(instrument_infos(notes)),
        bars=bar_count(piece),
        seconds=seconds,
        note_density=len(notes) / seconds if seconds > 0 else 0.0,
        pitch_low=int(pitched.pitch.min()) if len(pitched) else 0,
        pitch_high=int(pitched.pitch.max()) if len(pitched) else 0,
        register=register_word(mean_pitch(notes)) if len(pitched) else "mid",
        mean_velocity=velocity,
        dynamics=dynamics_word(velocity),
        texture=texture,
        chords=tuple(chords),
        progression=tuple(progression(chords)),
        key_sections=sections,
        key_changes=key_changes(sections),
    )
