"""General MIDI program names and families; channel 10 (is_drum) is always "drums"."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bridge.music import NoteList

GM_PROGRAM_NAMES = (
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
    "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet",
    "Celesta", "Glockenspiel", "Music Box", "Vibraphone", "Marimba", "Xylophone", "Tubular Bells", "Dulcimer",
    "Drawbar Organ", "Percussive Organ", "Rock Organ", "Church Organ", "Reed Organ", "Accordion", "Harmonica",
    "Tango Accordion",
    "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)", "Electric Guitar (clean)",
    "Electric Guitar (muted)", "Overdriven Guitar", "Distortion Guitar", "Guitar Harmonics",
    "Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass", "Slap Bass 1",
    "Slap Bass 2", "Synth Bass 1", "Synth Bass 2",
    "Violin", "Viola", "Cello", "Contrabass", "Tremolo Strings", "Pizzicato Strings", "Orchestral Harp",
    "Timpani",
    "String Ensemble 1", "String Ensemble 2", "Synth Strings 1", "Synth Strings 2", "Choir Aahs", "Voice Oohs",
    "Synth Voice", "Orchestra Hit",
    "Trumpet", "Trombone", "Tuba", "Muted Trumpet", "French Horn", "Brass Section", "Synth Brass 1",
    "Synth Brass 2",
    "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax", "Oboe", "English Horn", "Bassoon", "Clarinet",
    "Piccolo", "Flute", "Recorder", "Pan Flute", "Blown Bottle", "Shakuhachi", "Whistle", "Ocarina",
    "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)", "Lead 5 (charang)",
    "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)",
    "Pad 1 (new age)", "Pad 2 (warm)", "Pad 3 (polysynth)", "Pad 4 (choir)", "Pad 5 (bowed)", "Pad 6 (metallic)",
    "Pad 7 (halo)", "Pad 8 (sweep)",
    "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)", "FX 5 (brightness)",
    "FX 6 (goblins)", "FX 7 (echoes)", "FX 8 (sci-fi)",
    "Sitar", "Banjo", "Shamisen", "Koto", "Kalimba", "Bagpipe", "Fiddle", "Shanai",
    "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock", "Taiko Drum", "Melodic Tom", "Synth Drum",
    "Reverse Cymbal",
    "Guitar Fret Noise", "Breath Noise", "Seashore", "Bird Tweet", "Telephone Ring", "Helicopter", "Applause",
    "Gunshot",
)  # fmt: skip

# One family per block of eight programs.
GM_FAMILIES = (
    "piano", "chromatic percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass",
    "reed", "pipe", "synth lead", "synth pad", "synth effects", "ethnic", "percussive", "sound effects",
)  # fmt: skip

DRUMS = "drums"


@dataclass(frozen=True)
class InstrumentInfo:
    program: int
    name: str
    family: str
    is_drum: bool
    note_count: int

    def to_dict(self) -> dict:
        return {
            "program": self.program,
            "name": self.name,
            "family": self.family,
            "is_drum": self.is_drum,
            "note_count": self.note_count,
        }


def program_name(program: int) -> str:
    return GM_PROGRAM_NAMES[int(program) % 128]


def program_family(program: int) -> str:
    return GM_FAMILIES[(int(program) % 128) // 8]


def instrument_infos(notes: NoteList) -> list[InstrumentInfo]:
    """One entry per (program, drum) pair, most notes first; ties by program number for stable output."""
    if len(notes) == 0:
        return []
    # Drums are one instrument whatever program the file gave the drum channel.
    key = np.where(notes.is_drum, 128, notes.program.astype(np.int64))
    counts = np.bincount(key, minlength=129)
    found = [int(k) for k in np.nonzero(counts)[0]]
    found.sort(key=lambda k: (-counts[k], k))
    infos = []
    for k in found:
        if k == 128:
            infos.append(InstrumentInfo(0, "Drums", DRUMS, True, int(counts[k])))
        else:
            infos.append(InstrumentInfo(k, program_name(k), program_family(k), False, int(counts[k])))
    return infos
