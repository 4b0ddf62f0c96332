"""The feature-matching baseline: parse key, mode, tempo, meter and instruments from a query and rank
clips by how many of those agree with the clip's analysed features (the corpus metadata).

Pure Python + numpy, no torch: it runs in the ONNX evaluation path too. The library engineer may reuse
`parse_query` for structured search filters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MODES = ("major", "minor", "dorian", "mixolydian", "lydian", "phrygian", "aeolian", "ionian", "locrian")
_MODE_ALIASES = {"aeolian": "minor", "ionian": "major", "maj": "major", "min": "minor", "mix": "mixolydian",
                 "dor": "dorian"}
_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACC = r"(#|♯|b|♭|\s?sharp|\s?flat|-sharp|-flat)?"
# The tonic letter must be upper case: "in a minor key" is not A minor, "in A minor" is.
_KEY_WITH_MODE = re.compile(rf"\b([A-G]){_ACC}[\s-]+({'|'.join(MODES)})\b", re.IGNORECASE)
_KEY_AFTER_IN = re.compile(rf"(?:\b[Ii]n|[Kk]ey of)\s+([A-G]){_ACC}(?![\w'])")
_MODE_WORD = re.compile(rf"\b({'|'.join(MODES)})\b", re.IGNORECASE)
_METER = re.compile(r"\b(\d{1,2})\s*/\s*(\d{1,2})\b")
_BPM = re.compile(r"\b(\d{2,3})\s*(?:bpm|beats per minute|beats a minute|qpm)\b", re.IGNORECASE)

# Italian tempo words by their usual BPM bands (bridge.analysis.tempo_word uses the same names).
TEMPO_WORDS = {
    "grave": (20, 45), "largo": (40, 60), "lento": (40, 60), "larghetto": (60, 66), "adagio": (66, 76),
    "andante": (76, 108), "andantino": (80, 108), "moderato": (108, 120), "allegretto": (112, 120),
    "allegro": (120, 156), "vivace": (156, 176), "presto": (168, 200), "prestissimo": (200, 400),
}
# Everyday speed words, in the bands the corpus captions use (slow < 76 <= moderate < 120 <= fast < 170).
TEMPO_ADJECTIVES = {
    "slow": (0, 76), "slowly": (0, 76), "leisurely": (0, 76), "unhurried": (0, 76), "relaxed": (0, 76),
    "calm": (0, 90), "moderate": (76, 120), "medium": (76, 120), "medium-tempo": (76, 120), "steady": (76, 120),
    "mid-paced": (76, 120), "walking": (76, 110), "fast": (120, 400), "quick": (120, 400), "brisk": (120, 400),
    "up-tempo": (120, 400), "uptempo": (120, 400), "speedy": (120, 400), "lively": (115, 400),
    "energetic": (120, 400), "upbeat": (110, 400), "very fast": (170, 400), "rapid": (170, 400),
    "racing": (170, 400), "breakneck": (170, 400),
}
METER_WORDS = {
    "common time": "4/4", "four-four": "4/4", "three-four": "3/4", "waltz": "3/4", "two-four": "2/4",
    "six-eight": "6/8", "compound duple": "6/8", "jig": "6/8", "cut time": "2/2", "alla breve": "2/2",
    "nine-eight": "9/8", "three-eight": "3/8", "twelve-eight": "12/8", "three-two": "3/2", "four-two": "4/2",
    "six-four": "6/4", "march": "2/4",
}
INSTRUMENT_WORDS = {
    "piano": "piano", "keys": "piano", "organ": "organ", "harpsichord": "harpsichord", "violin": "violin",
    "fiddle": "violin", "viola": "viola", "cello": "cello", "bass": "bass", "contrabass": "bass",
    "string": "string", "strings": "string", "flute": "flute", "piccolo": "piccolo", "recorder": "recorder",
    "whistle": "whistle", "oboe": "oboe", "clarinet": "clarinet", "bassoon": "bassoon", "sax": "sax",
    "saxophone": "sax", "trumpet": "trumpet", "trombone": "trombone", "horn": "horn", "tuba": "tuba",
    "brass": "brass", "guitar": "guitar", "harp": "harp", "choir": "choir", "voices": "choir", "vocal": "choir",
    "drums": "drum", "drum": "drum", "percussion": "drum", "accordion": "accordion", "bagpipe": "bagpipe",
    "pipes": "pipe", "banjo": "banjo", "mandolin": "mandolin", "marimba": "marimba", "vibraphone": "vibraphone",
    "celesta": "celesta", "chorus": "choir", "squeezebox": "accordion", "concertina": "concertina",
    "harmonica": "harmonica", "quartet": "string", "synth": "synth", "pad": "pad", "bells": "bell",
    "glockenspiel": "glockenspiel",
}


@dataclass(frozen=True)
class ParsedQuery:
    tonic_pc: int | None = None
    mode: str | None = None
    meter: str | None = None
    tempo_range: tuple[float, float] | None = None
    instruments: frozenset[str] = field(default_factory=frozenset)


def _pc(letter: str, acc: str | None) -> int:
    pc = _PC[letter.upper()]
    acc = (acc or "").strip().lower().lstrip("-")
    if acc in ("#", "♯", "sharp"):
        pc += 1
    elif acc in ("b", "♭", "flat"):
        pc -= 1
    return pc % 12


def _mode(word: str) -> str:
    word = word.lower()
    return _MODE_ALIASES.get(word, word)


def parse_query(text: str) -> ParsedQuery:
    tonic = mode = meter = None
    m = _KEY_WITH_MODE.search(text)
    if m and m.group(1).isupper():
        tonic, mode = _pc(m.group(1), m.group(2)), _mode(m.group(3))
    else:
        m = _KEY_AFTER_IN.search(text)
        if m:
            tonic = _pc(m.group(1), m.group(2))
    if mode is None:
        m = _MODE_WORD.search(text)
        mode = _mode(m.group(1)) if m else None
    lower = text.lower()
    m = _METER.search(text)
    if m:
        meter = f"{int(m.group(1))}/{int(m.group(2))}"
    else:
        meter = next((v for k, v in METER_WORDS.items() if re.search(rf"(?<![\w-]){k}(?![\w-])", lower)), None)
    tempo = None
    m = _BPM.search(text)
    if m:
        bpm = float(m.group(1))
        tempo = (bpm * 0.9, bpm * 1.1)
    else:
        tempo = next((TEMPO_WORDS[w] for w in re.findall(r"[a-z]+", lower) if w in TEMPO_WORDS), None)
        if tempo is None:  # longest phrase first: "very fast" before "fast"
            found = [(len(k), v) for k, v in TEMPO_ADJECTIVES.items() if re.search(rf"(?<![\w-]){k}(?![\w-])", lower)]
            tempo = max(found)[1] if found else None
    words = set(re.findall(r"[a-z]+", lower))
    instruments = frozenset(v for k, v in INSTRUMENT_WORDS.items() if k in words)
    return ParsedQuery(tonic, mode, meter, tempo, instruments)


@dataclass(frozen=True)
class ClipFeatures:
    tonic_pc: int | None
    mode: str | None
    meter: str | None
    bpm: float | None
    instruments: str  # lower-cased instrument names joined, for substring matching


def clip_features(record: dict) -> ClipFeatures:
    """Features from a corpus record (CONTRACTS.md fields); missing ones never match."""
    key = str(record.get("key") or "").strip()
    tonic = mode = None
    m = re.match(r"([A-Ga-g])(#|♯|b|♭|-sharp|-flat)?", key)
    if m:
        tonic = _pc(m.group(1), m.group(2))
    m = _MODE_WORD.search(key)
    mode_field = record.get("mode")
    if mode_field:
        mode = _mode(str(mode_field))
    elif m:
        mode = _mode(m.group(1))
    bpm = record.get("tempo")
    try:
        bpm = float(bpm) if bpm is not None else None
    except (TypeError, ValueError):
        bpm = None
    # GM names ("Choir Aahs") plus the corpus' own caption words ("fiddle", "tin whistle") when present.
    names = []
    for key in ("instrument_summary", "instruments", "ensemble"):
        value = record.get(key) or []
        names += [value] if isinstance(value, str) else list(value)
    return ClipFeatures(tonic, mode, record.get("time_signature"), bpm, " ".join(str(n).lower() for n in names))


def score_matrix(queries: list[str], records: list[dict]) -> np.ndarray:
    """(n_queries, n_clips) float32: the number of parsed constraints each clip satisfies."""
    parsed = [parse_query(q) for q in queries]
    feats = [clip_features(r) for r in records]
    scores = np.zeros((len(parsed), len(feats)), dtype=np.float32)
    c_tonic = np.array([-1 if f.tonic_pc is None else f.tonic_pc for f in feats])
    c_mode = np.array([f.mode or "" for f in feats], dtype=object)
    c_meter = np.array([str(f.meter or "") for f in feats], dtype=object)
    c_bpm = np.array([np.nan if f.bpm is None else f.bpm for f in feats], dtype=np.float64)
    has_instrument: dict[str, np.ndarray] = {}  # one clip mask per instrument word, built on first use
    for i, q in enumerate(parsed):
        row = scores[i]
        if q.tonic_pc is not None:
            row += c_tonic == q.tonic_pc
        if q.mode is not None:
            row += c_mode == q.mode
        if q.meter is not None:
            row += c_meter == q.meter
        if q.tempo_range is not None:
            lo, hi = q.tempo_range
            row += (c_bpm >= lo) & (c_bpm <= hi)
        for inst in q.instruments:
            if inst not in has_instrument:
                has_instrument[inst] = np.array([inst in f.instruments for f in feats], dtype=bool)
            row += has_instrument[inst]
    return scores


def analysed_record(midi_path: str | Path) -> dict:
    """The clip's features as `bridge.analysis` hears them from the notes, in corpus-record form.

    This is the baseline the issue asks for: a search without a model can only know what analysis finds
    in a user's file, never the labels its caption was written from. A file that cannot be read matches nothing.
    """
    from bridge.analysis import analyze_piece
    from bridge.music import MidiFileError, load_midi

    try:
        a = analyze_piece(load_midi(midi_path), with_chords=False)
    except MidiFileError:
        return {}
    return {
        "key": a.key.name,
        "mode": a.key.mode,
        "time_signature": a.time_signature,
        "tempo": a.tempo_bpm,
        "instrument_summary": [i.name for i in a.instruments],
    }
