"""Auxiliary training targets: the facts a caption states about its clip, as class ids per clip.

Contrastive loss with a batch of 32 rarely shows two clips that differ only in key or meter, so the MIDI
tower learns those facts slowly. Optional linear heads on the MIDI embedding (`--aux-weight`) predict them
from the clip directly. The heads are training-only: the exported tower is unchanged. Pure numpy.
"""

from __future__ import annotations

import numpy as np

MODES = ("major", "minor", "dorian", "mixolydian", "phrygian")
_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
METERS = ("2/4", "4/4", "6/8", "4/2", "3/4", "2/2", "3/2", "3/8", "9/8", "6/4", "12/8")
TEMPO_EDGES = (60, 76, 90, 108, 120, 140, 170, 200)  # BPM; len + 1 classes
INSTRUMENTS = (
    "violin", "voice", "drums", "choir", "flute", "piano", "nylon guitar", "tuba", "acoustic bass", "banjo",
    "accordion", "clarinet", "oboe", "recorder", "harp", "jazz guitar", "viola", "concertina", "mandolin",
    "pan flute", "tin whistle", "harmonica", "cello", "trumpet", "trombone", "electric bass", "harpsichord",
    "strings", "electric guitar", "church organ", "fife", "bassoon", "distortion guitar", "rock organ",
    "double bass", "honky-tonk piano", "fretless bass", "french horn", "tenor sax",
)
HEAD_SIZES = {"key": 12 * len(MODES), "meter": len(METERS), "tempo": len(TEMPO_EDGES) + 1,
              "instruments": len(INSTRUMENTS)}
IGNORE = -1


def pitch_class(tonic: str) -> int | None:
    """'F#' -> 6, 'Bb' -> 10, 'E-flat' -> 3; None when it is not a note name."""
    tonic = tonic.strip()
    if not tonic or tonic[0].upper() not in _PC:
        return None
    rest = tonic[1:].lower().replace("-", "").replace(" ", "")
    shift = {"": 0, "#": 1, "♯": 1, "sharp": 1, "b": -1, "♭": -1, "flat": -1}.get(rest)
    return None if shift is None else (_PC[tonic[0].upper()] + shift) % 12


def key_class(record: dict) -> int:
    """tonic x mode; from `tonic`/`mode`, else from a `key` like "F# minor"."""
    tonic, mode = str(record.get("tonic") or ""), str(record.get("mode") or "").lower()
    key = str(record.get("key") or "").strip()
    if not tonic and " " in key:
        tonic, mode = key.rsplit(" ", 1)
        mode = mode.lower()
    elif not tonic:
        tonic = key
    pc = pitch_class(tonic)
    if pc is None or mode not in MODES:
        return IGNORE
    return pc * len(MODES) + MODES.index(mode)


def meter_class(record: dict) -> int:
    meter = str(record.get("time_signature") or "")
    return METERS.index(meter) if meter in METERS else IGNORE


def tempo_class(record: dict) -> int:
    bpm = record.get("tempo")
    if not isinstance(bpm, (int, float)) or bpm <= 0:
        return IGNORE
    return int(np.searchsorted(TEMPO_EDGES, bpm, side="right"))


def instrument_vector(record: dict) -> np.ndarray:
    """Multi-hot over INSTRUMENTS; names outside the list are left out."""
    v = np.zeros(len(INSTRUMENTS), dtype=np.float32)
    for name in record.get("instruments") or []:
        if name in INSTRUMENTS:
            v[INSTRUMENTS.index(name)] = 1.0
    return v


def clip_targets(records: list[dict]) -> dict[str, np.ndarray]:
    """One row per record: int64 class ids (IGNORE when unknown) and a float multi-hot for instruments."""
    return {
        "key": np.array([key_class(r) for r in records], dtype=np.int64),
        "meter": np.array([meter_class(r) for r in records], dtype=np.int64),
        "tempo": np.array([tempo_class(r) for r in records], dtype=np.int64),
        "instruments": np.stack([instrument_vector(r) for r in records]) if records
        else np.zeros((0, len(INSTRUMENTS)), np.float32),
    }
