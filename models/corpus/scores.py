"""MusicXML / Humdrum scores through music21, one track per part with a real GM program.

music21's own MIDI export writes every part as program 0, so notes are read straight from the parts
instead, which also keeps quarter-note offsets exact and lets the part names choose the instruments.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from bridge.music import KeySignature, NoteList, Piece, TempoChange, TimeSignature
from bridge.music.midi_file import DEFAULT_LIMITS

log = logging.getLogger(__name__)

CHOIR = 52  # GM "Choir Aahs"

# Part-name keywords -> GM program; checked in order, so "violoncello" must precede "violin".
_PART_PROGRAMS = (
    ("violoncello", 42), ("cello", 42), ("contrabass", 43), ("double bass", 43), ("viola", 41), ("violin", 40),
    ("piano", 0), ("pianoforte", 0), ("harpsichord", 6), ("cembalo", 6), ("organ", 19), ("flute", 73),
    ("oboe", 68), ("clarinet", 71), ("bassoon", 70), ("horn", 60), ("trumpet", 56), ("trombone", 57),
    ("guitar", 24), ("harp", 46), ("continuo", 6), ("basso continuo", 6),
    ("soprano", CHOIR), ("alto", CHOIR), ("tenor", CHOIR), ("bass", CHOIR), ("canto", CHOIR),
    ("cantus", CHOIR), ("quinto", CHOIR), ("sesto", CHOIR), ("contratenor", CHOIR), ("triplum", CHOIR),
    ("voice", CHOIR), ("superius", CHOIR), ("altus", CHOIR), ("bassus", CHOIR), ("discantus", CHOIR),
)


class ScoreError(Exception):
    """A score that cannot be used; str(error) is a one-line reason."""


def part_program(part_name: str, midi_program: int | None, default: int) -> int:
    name = (part_name or "").lower()
    for word, program in _PART_PROGRAMS:
        if word in name:
            return program
    if midi_program is not None and 0 < midi_program < 128:
        return int(midi_program)
    return default


def load_score(path: Path, default_program: int = 0, default_bpm: float = 90.0) -> tuple[Piece, list[str]]:
    """Parse a score file into a Piece (one track per part) and the list of part names."""
    import music21

    try:
        # No pickle: music21 would otherwise spend a third of the parse time writing one we never read.
        score = music21.converter.parse(str(path), forceSource=True, storePickle=False)
    except Exception as e:  # music21 raises many exception types for broken files
        reason = str(e).splitlines()[0][:160] if str(e) else ""
        raise ScoreError(f"music21 cannot parse: {type(e).__name__}: {reason}") from e
    if isinstance(score, music21.stream.Opus):
        if not score.scores:
            raise ScoreError("empty opus")
        score = score.scores[0]
    parts = list(score.parts) or [score]
    shift = _pickup_shift(parts[0])
    cols: list[list] = [[], [], [], [], [], [], []]
    names: list[str] = []
    for index, part in enumerate(parts):
        name = part.partName or f"part {index + 1}"
        names.append(name)
        instrument = part.getInstrument(returnDefault=False)
        program = part_program(name, getattr(instrument, "midiProgram", None), default_program)
        for n in part.stripTies().flatten().notes:
            dur = float(n.quarterLength)
            if dur <= 0:  # grace notes
                continue
            start = float(n.offset) + shift
            for p in getattr(n, "pitches", ()):
                cols[0].append(start)
                cols[1].append(dur)
                cols[2].append(int(p.midi))
                vel = n.volume.velocity if n.volume is not None and n.volume.velocity else 80
                cols[3].append(int(vel))
                cols[4].append(program)
                cols[5].append(False)
                cols[6].append(index)
        if len(cols[0]) > DEFAULT_LIMITS.max_notes:
            break
    if not cols[0]:
        raise ScoreError("no notes")
    notes = NoteList.from_columns(*cols)
    notes = notes.take((notes.pitch >= 0) & (notes.pitch <= 127))
    flat = parts[0].flatten()
    signatures = [
        TimeSignature(float(ts.offset) + (shift if ts.offset > 0 else 0.0), int(ts.numerator), int(ts.denominator))
        for ts in flat.getElementsByClass(music21.meter.TimeSignature)
        if ts.denominator in (1, 2, 4, 8, 16, 32) and 0 < ts.numerator <= 64
    ]
    keys = [
        KeySignature(float(k.offset) + (shift if k.offset > 0 else 0.0), int(k.sharps),
                     getattr(k, "mode", "") == "minor")
        for k in flat.getElementsByClass(music21.key.KeySignature)
        if -7 <= k.sharps <= 7
    ]
    tempos = []
    for mm in flat.getElementsByClass(music21.tempo.MetronomeMark):
        bpm = mm.getQuarterBPM()
        if bpm and 20 <= bpm <= 300:
            tempos.append(TempoChange(float(mm.offset) + (shift if mm.offset > 0 else 0.0), float(bpm)))
    if not tempos or tempos[0].time > 0:
        tempos.insert(0, TempoChange(0.0, tempos[0].bpm if tempos else default_bpm))
    if not signatures or signatures[0].time > 0:
        signatures.insert(0, TimeSignature(0.0, 4, 4))
    piece = Piece(
        notes=notes,
        tempos=tuple(_dedupe(tempos)),
        time_signatures=tuple(_dedupe(signatures)),
        key_signatures=tuple(_dedupe(keys)),
        track_names=tuple(names),
    )
    return piece, names


def _pickup_shift(part) -> float:
    """Quarters to delay everything so an anacrusis measure ends on the first full bar line."""
    measures = part.getElementsByClass("Measure")
    if not measures:
        return 0.0
    first = measures[0]
    try:
        padding = float(first.paddingLeft or 0.0)
        if padding <= 0:
            full = float(first.barDuration.quarterLength)
            actual = float(first.highestTime)
            if 0 < actual < full - 1e-6 and len(measures) > 1:
                padding = full - actual
    except Exception:  # barDuration fails on measures without a meter; treat as no pickup
        return 0.0
    return padding


def _dedupe(events):
    by_time = {}
    for e in sorted(events, key=lambda e: e.time):
        by_time[round(e.time, 6)] = e
    return list(by_time.values())


def final_bass_pc(piece: Piece) -> int | None:
    """Pitch class of the lowest note sounding at the end: the final chord's root in a cadence."""
    n = piece.notes
    if len(n) == 0:
        return None
    last = float(n.start.max())
    at_end = n.take(n.end >= last + 1e-6)
    if len(at_end) == 0:
        at_end = n.take(n.start >= last - 1e-6)
    return int(at_end.pitch[int(np.argmin(at_end.pitch))]) % 12
