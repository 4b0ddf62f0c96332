"""General MIDI program names and families (channel 10, is_drum, is always "drums"), and the instrument words
search and generation read: synonyms, arranging names, ensembles and the musician families to fall back to."""

from __future__ import annotations

import re
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
DRUM_PROGRAM = 128  # the "program" the index and the writer give drum-channel notes

# ---- the words musicians use for instruments ------------------------------------------------------------
# One table for search (bridge.query) and generation (bridge.generation.texture): a word added here is read
# the same way by both. Values are GM programs, DRUM_PROGRAM = drums.

# Broad words that are not GM names, each meaning a set of programs.
INSTRUMENT_SYNONYMS: dict[str, frozenset[int]] = {
    "drums": frozenset({DRUM_PROGRAM}),
    "drum kit": frozenset({DRUM_PROGRAM}),
    "drum": frozenset({DRUM_PROGRAM}),
    "percussion": frozenset({DRUM_PROGRAM, *range(8, 16), 47, *range(112, 120)}),
    "keys": frozenset(range(0, 8)),
    "keyboard": frozenset(range(0, 8)),
    "sax": frozenset(range(64, 68)),
    "saxophone": frozenset(range(64, 68)),
    "voice": frozenset({52, 53, 54, 85, 91}),
    "vocal": frozenset({52, 53, 54, 85, 91}),
    "choir": frozenset({52, 53, 54, 91}),
    "singing": frozenset({52, 53, 54}),
    "string": frozenset({*range(40, 46), *range(48, 52)}),
    "strings": frozenset({*range(40, 46), *range(48, 52)}),
    "woodwind": frozenset(range(64, 80)),
    "horn": frozenset({60}),
    "fiddle": frozenset({40, 110}),
    "double bass": frozenset({43, 32}),
    "upright bass": frozenset({32, 43}),
    "synth": frozenset(range(80, 104)),
    "synthesizer": frozenset(range(80, 104)),
    "harp": frozenset({46}),
    "guitar": frozenset(range(24, 32)),
    "organ": frozenset(range(16, 24)),
    "piano": frozenset(range(0, 4)),  # a pianist's "piano": the acoustic and electric grands, not Rhodes
    "grand piano": frozenset({0, 1, 2}),
    "upright piano": frozenset({0, 3}),
    "rhodes": frozenset({4}),
    "viol": frozenset({40, 41, 42, 43}),
    "viols": frozenset({40, 41, 42, 43}),
    "concertina": frozenset({21, 23}),
    "whistle": frozenset({78}),
    "tin whistle": frozenset({78}),
    "recorder": frozenset({74}),
}

# The families a musician falls back to when the exact instrument is not there: a query for "piano" ranks a
# harpsichord above a flute, labelled "matched family: keyboards", never as a piano.
MUSICIAN_FAMILIES: dict[str, frozenset[int]] = {
    "keyboards": frozenset({*range(0, 8), *range(16, 22), 23}),
    "mallets": frozenset(range(8, 16)),
    "plucked strings": frozenset({*range(24, 32), 45, 46, 104, 105, 106, 107, 15}),
    "basses": frozenset(range(32, 40)),
    "bowed strings": frozenset({*range(40, 46), 48, 49, 50, 51, 110}),
    "voices": frozenset({52, 53, 54, 85, 91}),
    "brass": frozenset(range(56, 64)),
    "woodwinds": frozenset({*range(64, 80), 22, 109, 111}),
    "synths": frozenset(range(80, 104)),
    "percussion": frozenset({DRUM_PROGRAM, 47, *range(112, 120)}),
}

# GM names whose plain words mean something else in a query ("lead melody", "a soft pad").
AMBIGUOUS_GM_NAMES = frozenset({"lead", "pad", "fx", "applause", "seashore", "gunshot", "helicopter", "whistle",
                                "recorder"})
# ("whistle" and "recorder" come back as synonyms; "recorder" then also catches "recorder consort".)

# Names finer than the GM names and the words above, the ones an arranger writes for: one program each
# ("bass guitar" is the fingered electric bass, not any bass). A hyphen also matches a space.
ARRANGING_NAMES: dict[str, int] = {
    "nylon-string guitar": 24, "nylon guitar": 24, "classical guitar": 24, "spanish guitar": 24,
    "steel-string guitar": 25, "steel guitar": 25, "folk guitar": 25, "jazz guitar": 26,
    "clean electric guitar": 27, "clean guitar": 27, "overdriven guitar": 29, "distorted guitar": 30,
    "bass guitar": 33, "fingerstyle bass": 33, "finger bass": 33, "picked bass": 34, "fretless bass": 35,
    "slap bass": 36, "soprano sax": 64, "soprano saxophone": 64,
    "alto sax": 65, "alto saxophone": 65, "tenor sax": 66, "tenor saxophone": 66, "baritone sax": 67,
    "baritone saxophone": 67, "bari sax": 67, "pipe organ": 19, "church organ": 19, "hammond organ": 16,
    "hammond": 16, "drawbar organ": 16, "rock organ": 18, "bodhrán": DRUM_PROGRAM, "bodhran": DRUM_PROGRAM,
    "snare drum": DRUM_PROGRAM, "snare": DRUM_PROGRAM, "brushes": DRUM_PROGRAM, "drum kit": DRUM_PROGRAM,
    "timpani": 47, "lute": 24, "cor anglais": 69, "violoncello": 42, "vibes": 11, "wurlitzer": 4,
    "fender rhodes": 4, "e-piano": 4, "shaker": DRUM_PROGRAM, "cajón": DRUM_PROGRAM, "cajon": DRUM_PROGRAM,
    "congas": DRUM_PROGRAM, "bongos": DRUM_PROGRAM, "tambourine": DRUM_PROGRAM, "hi-hat": DRUM_PROGRAM,
}  # fmt: skip

# "Vibes" is the vibraphone after a musician's list of players, and a mood after these words ("chill vibes",
# "good vibes"): the idiom is blanked before instruments are read, in search and in generation alike.
MOOD_VIBES = re.compile(r"\b(?:chill|chilled|good|bad|summer|lo[- ]?fi|late[- ]night|cozy|cosy|dreamy|dark|"
                        r"happy|sad|calm|relaxed|mellow|warm|retro|vintage|nostalgic|positive|nice|cool)"
                        r"(?:[- ]out)? vibes?\b")


def without_mood_idioms(text: str) -> str:
    """`text` (lowercase) with the mood idioms that look like instrument names blanked, length kept."""
    return MOOD_VIBES.sub(lambda m: " " * len(m.group(0)), text)


# Ensembles named by their line-up, a program per player (a string quartet has two violins).
ENSEMBLES: dict[str, tuple[int, ...]] = {
    "string quartet": (40, 40, 41, 42), "string trio": (40, 41, 42), "piano trio": (0, 40, 42),
    "piano quartet": (0, 40, 41, 42), "piano quintet": (0, 40, 40, 41, 42), "brass quintet": (56, 56, 60, 57, 58),
    "brass quartet": (56, 56, 57, 58), "brass trio": (56, 60, 57), "wind quintet": (73, 68, 71, 60, 70),
    "woodwind quintet": (73, 68, 71, 60, 70), "woodwind trio": (68, 71, 70), "reed trio": (68, 71, 70),
    "jazz trio": (0, 32, DRUM_PROGRAM), "jazz quartet": (66, 0, 32, DRUM_PROGRAM),
    "rhythm section": (0, 33, DRUM_PROGRAM), "power trio": (29, 33, DRUM_PROGRAM),
    "brass band": (56, 60, 57, 58), "military band": (56, 57, 58, DRUM_PROGRAM), "string orchestra": (48, 48, 42),
}  # fmt: skip


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
