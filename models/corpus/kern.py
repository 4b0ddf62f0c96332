"""A small Humdrum **kern reader for the plain part-per-spine files of the Palestrina corpus.

music21 needs ~1 s per Palestrina mass movement (1,318 files: most of a build's time); these files use
only notes, rests, ties, bar lines, meters, key signatures and key designations, with no spine splits,
which this reader handles ~100x faster. Anything beyond that raises `KernUnsupported`, and the caller
falls back to music21.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bridge.music import KeySignature, NoteList, Piece, TempoChange, TimeSignature

CHOIR = 52

_NOTE = re.compile(r"^(\[?)(\d+)(\.*)([a-gA-Gr]+)([#\-n]*)")
_KEY_DESIGNATION = re.compile(r"^\*([a-gA-G])([#\-]?):(\w*)$")
_MODES = {"": None, "ion": "major", "dor": "dorian", "phr": "phrygian", "lyd": "lydian", "mix": "mixolydian",
          "aeo": "minor", "loc": "locrian"}


class KernUnsupported(Exception):
    """The file uses kern features this reader does not handle (spine splits, grace notes, ...)."""


@dataclass(frozen=True)
class KernKey:
    tonic_pc: int
    mode: str  # "major", "minor", "dorian", ...


def _pitch(letters: str, accidentals: str) -> int:
    letter = letters[0]
    base = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}[letter.lower()]
    octave = 4 + (len(letters) - 1) if letter.islower() else 3 - (len(letters) - 1)
    shift = accidentals.count("#") - accidentals.count("-")
    return 12 * (octave + 1) + base + shift


def _quarters(recip: str, dots: str) -> float:
    value = int(recip)
    base = 8.0 if value == 0 else 4.0 / value
    return base * (2.0 - 0.5 ** len(dots))


def read_kern(path: Path, bpm: float = 90.0) -> tuple[Piece, KernKey | None]:
    """The piece (one track per spine, voices as choir) and the file's key designation, if any."""
    lines = Path(path).read_text(encoding="latin-1").splitlines()
    spines: list[int] | None = None
    names: list[str] = []
    cursor: list[float] = []
    open_ties: list[dict[int, int]] = []
    cols: list[list] = [[], [], [], [], []]  # start, duration, pitch, track, tie-open flag index
    meters: list[TimeSignature] = []
    keys: list[KeySignature] = []
    designation: KernKey | None = None
    for line in lines:
        if not line or line.startswith("!"):
            continue
        fields = line.split("\t")
        if spines is None:
            if fields[0].startswith("**"):
                spines = [i for i, f in enumerate(fields) if f == "**kern"]
                if not spines:
                    raise KernUnsupported("no **kern spine")
                names = [""] * len(fields)
                cursor = [0.0] * len(fields)
                open_ties = [{} for _ in fields]
            continue
        if len(fields) != len(cursor):
            raise KernUnsupported("spine count changes")
        head = fields[spines[0]]
        if head.startswith("*"):
            if any(f in ("*^", "*v", "*+", "*-", "*x") for f in fields) and not all(f == "*-" for f in fields):
                raise KernUnsupported("spine manipulation")
            time = cursor[spines[0]]
            m = re.match(r"^\*M(\d+)/(\d+)$", head)
            if m:
                meters.append(TimeSignature(time, int(m.group(1)), int(m.group(2))))
            k = re.match(r"^\*k\[([a-g#\-]*)\]$", head)
            if k:
                keys.append(KeySignature(time, k.group(1).count("#") - k.group(1).count("-"), False))
            d = _KEY_DESIGNATION.match(head)
            if d and designation is None:
                letter, acc, mode_word = d.groups()
                mode = _MODES.get(mode_word.lower()[:3]) if mode_word else ("major" if letter.isupper() else "minor")
                if mode:
                    pc = _pitch(letter.lower(), acc)
                    designation = KernKey(pc % 12, mode)
            for i in spines:
                if fields[i].startswith("*I") and not fields[i].startswith("*IC"):
                    names[i] = names[i] or fields[i][2:]
            continue
        if head.startswith("="):
            continue
        for track, i in enumerate(spines):
            token = fields[i]
            if token == ".":
                continue
            start = cursor[i]
            step = None
            for sub in token.split(" "):
                m = _NOTE.match(sub)
                if not m:
                    if "q" in sub or "Q" in sub:
                        continue  # grace note: no duration
                    raise KernUnsupported(f"token {sub!r}")
                tie_start, recip, dots, letters, accidentals = m.groups()
                if len(set(letters.lower())) != 1:
                    raise KernUnsupported(f"token {sub!r}")
                dur = _quarters(recip, dots)
                step = dur if step is None else min(step, dur)
                if letters[0] == "r":
                    continue
                pitch = _pitch(letters, accidentals)
                ties = open_ties[i]
                if "]" in sub or "_" in sub:
                    j = ties.get(pitch)
                    if j is not None:
                        cols[1][j] += dur
                        if "]" in sub:
                            del ties[pitch]
                        continue
                cols[0].append(start)
                cols[1].append(dur)
                cols[2].append(pitch)
                cols[3].append(track)
                if tie_start:
                    ties[pitch] = len(cols[0]) - 1
            cursor[i] = start + (step or 0.0)
    if spines is None or not cols[0]:
        raise KernUnsupported("no notes")
    n = len(cols[0])
    notes = NoteList.from_columns(cols[0], cols[1], cols[2], [80] * n, [CHOIR] * n, [False] * n, cols[3])
    meters = _dedupe(meters) or [TimeSignature(0.0, 4, 4)]
    if meters[0].time > 0:
        meters.insert(0, TimeSignature(0.0, 4, 4))
    piece = Piece(
        notes=notes,
        tempos=(TempoChange(0.0, bpm),),
        time_signatures=tuple(meters),
        key_signatures=tuple(_dedupe(keys)),
        track_names=tuple(names[i] or f"voice {t + 1}" for t, i in enumerate(spines)),
    )
    return piece, designation


def _dedupe(events):
    by_time = {}
    for e in sorted(events, key=lambda e: e.time):
        by_time[round(e.time, 6)] = e
    return list(by_time.values())
