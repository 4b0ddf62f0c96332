"""Reading and writing MIDI files, with every way a real file can be broken turned into a reason.

Parsing is symusic (C++, ~40x faster than mido); bad input raises `MidiFileError` with a
one-line reason, and inputs that are usable but absurd are capped with a warning recorded
on the returned `Piece`.
"""

from __future__ import annotations

import os
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

import numpy as np

from bridge.music.notes import KeySignature, NoteList, Piece, TempoChange, TimeSignature


class MidiFileError(Exception):
    """A MIDI file that cannot be used; str(error) is a one-line reason for reports."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 64 * 1024 * 1024
    max_notes: int = 100_000
    max_tracks: int = 4096  # the note table stores track numbers as int16; real files have well under 100
    max_quarters: float = 4 * 2000.0  # 2000 bars of 4/4
    min_bpm: float = 10.0
    max_bpm: float = 400.0


DEFAULT_LIMITS = Limits()


def load_midi(path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> Piece:
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise MidiFileError(f"cannot read file: {e.strerror or e}") from e
    if size == 0:
        raise MidiFileError("empty file (0 bytes)")
    if size > limits.max_bytes:
        raise MidiFileError(f"file too large ({size / 1e6:.1f} MB > {limits.max_bytes / 1e6:.0f} MB)")
    data = path.read_bytes()
    return load_midi_bytes(data, limits)


def load_midi_bytes(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Piece:
    if len(data) == 0:
        raise MidiFileError("empty file (0 bytes)")
    if data[:4] != b"MThd":
        if data[:4] == b"RIFF":
            raise MidiFileError("RIFF-wrapped MIDI (RMID) is not supported")
        raise MidiFileError("not a MIDI file (no MThd header)")
    header = _header(data)
    import symusic  # local: keeps `import bridge.music` cheap

    try:
        score = symusic.Score.from_midi(data)
    except Exception as e:  # symusic raises RuntimeError/ValueError with C++ messages
        raise MidiFileError(f"corrupt or truncated MIDI: {_first_line(e)}") from e
    piece = piece_from_score(score, limits)
    if header is not None and header[0] == 2 and len(score.tracks) > 1:
        # symusic (like most readers) lays a type-2 file's independent sequences over one another.
        note = f"type-2 MIDI file: its {len(score.tracks)} independent sequences were merged into one timeline"
        piece = replace(piece, warnings=(note, *piece.warnings))
    return piece


def _header(data: bytes) -> tuple[int, int, int] | None:
    """(format, tracks, division) from the MThd chunk; None when it is too short to say (symusic reports that)."""
    if len(data) < 14:
        return None
    fmt, ntracks, division = int.from_bytes(data[8:10], "big"), int.from_bytes(data[10:12], "big"), data[12:14]
    division = int.from_bytes(division, "big")
    if division == 0:
        raise MidiFileError("invalid header: division (ticks per quarter note) is 0")
    return fmt, ntracks, division


def piece_from_score(score, limits: Limits = DEFAULT_LIMITS) -> Piece:
    """Convert a symusic Score (any time unit) into a Piece, applying `limits`."""
    warnings: list[str] = []
    n_tracks = len(score.tracks)
    if n_tracks == 0:
        raise MidiFileError("no tracks")
    if n_tracks > limits.max_tracks:
        warnings.append(f"capped at the first {limits.max_tracks} of {n_tracks} tracks")
    q = score.to("quarter")
    columns: list[list[np.ndarray]] = [[] for _ in range(7)]
    names = []
    for i, track in enumerate(q.tracks):
        if i >= limits.max_tracks:
            break
        names.append(str(track.name))
        arr = track.notes.numpy()
        n = len(arr["pitch"])
        if n == 0:
            continue
        for col, values in zip(
            columns,
            (
                arr["time"].astype(np.float64),
                arr["duration"].astype(np.float64),
                arr["pitch"].astype(np.int16),
                arr["velocity"].astype(np.int16),
                np.full(n, int(track.program), np.int16),
                np.full(n, bool(track.is_drum)),
                np.full(n, i, np.int16),
            ),
        ):
            col.append(values)
    if not columns[0]:
        capped = n_tracks > limits.max_tracks
        raise MidiFileError(f"no notes in the first {limits.max_tracks} tracks" if capped else "no notes")
    notes = NoteList.from_columns(*(np.concatenate(c) for c in columns))
    if not (np.isfinite(notes.start).all() and np.isfinite(notes.duration).all()):
        raise MidiFileError("corrupt timing: note times are not finite numbers")
    notes = notes.take((notes.velocity > 0) & (notes.pitch >= 0) & (notes.duration >= 0))
    if len(notes) == 0:
        raise MidiFileError("no notes")
    # Zero-length notes are real in drum tracks; give them a tick so downstream math stays sane.
    notes = notes.with_(duration=np.maximum(notes.duration, 1.0 / 96))

    if len(notes) > limits.max_notes:
        warnings.append(f"capped at {limits.max_notes} of {len(notes)} notes")
        notes = notes.take(np.arange(limits.max_notes))
    if float(notes.start.max()) > limits.max_quarters:
        warnings.append(f"capped at {limits.max_quarters:.0f} quarters of {float(notes.start.max()):.0f}")
        notes = notes.take(notes.start < limits.max_quarters)

    tempos = []
    for t in q.tempos:
        bpm = float(t.qpm)
        if not np.isfinite(bpm) or bpm < limits.min_bpm or bpm > limits.max_bpm:
            clipped = float(np.clip(bpm if np.isfinite(bpm) else 120.0, limits.min_bpm, limits.max_bpm))
            warnings.append(f"absurd tempo {bpm:.3g} BPM clamped to {clipped:.0f}")
            bpm = clipped
        tempos.append(TempoChange(float(t.time), bpm))
    if not tempos or tempos[0].time > 0:
        tempos.insert(0, TempoChange(0.0, tempos[0].bpm if tempos else 120.0))

    signatures = []
    for ts in q.time_signatures:
        num, den = int(ts.numerator), int(ts.denominator)
        if num <= 0 or den <= 0 or den & (den - 1) or num > 64 or den > 64:
            warnings.append(f"invalid time signature {num}/{den} ignored")
            continue
        signatures.append(TimeSignature(float(ts.time), num, den))
    signatures = _dedupe_by_time(signatures)
    if not signatures or signatures[0].time > 0:
        signatures.insert(0, TimeSignature(0.0, 4, 4))

    keys = [
        KeySignature(float(k.time), int(k.key), bool(k.tonality))
        for k in q.key_signatures
        if -7 <= int(k.key) <= 7
    ]
    return Piece(
        notes=notes,
        tempos=tuple(_dedupe_by_time(tempos)),
        time_signatures=tuple(signatures),
        key_signatures=tuple(keys),
        track_names=tuple(names),
        warnings=_once_each(warnings),
    )


def _once_each(warnings: list[str]) -> tuple[str, ...]:
    """Each distinct warning once, with a count: a file that repeats an absurd tempo every bar says it once."""
    counts = Counter(warnings)
    return tuple(w if counts[w] == 1 else f"{w} ({counts[w]} times)" for w in dict.fromkeys(warnings))


def _dedupe_by_time(events):
    """Keep the last event at each time: files often repeat a meta event at time 0."""
    by_time = {}
    for e in sorted(events, key=lambda e: e.time):
        by_time[round(e.time, 6)] = e
    return list(by_time.values())


def piece_to_score(piece: Piece, ticks_per_quarter: int = 480):
    """A symusic Score (tick time) with one track per (track, program, drum) group."""
    import symusic

    score = symusic.Score(ticks_per_quarter)
    tpq = ticks_per_quarter
    for t in piece.tempos:
        score.tempos.append(symusic.Tempo(int(round(t.time * tpq)), float(t.bpm)))
    for ts in piece.time_signatures:
        score.time_signatures.append(symusic.TimeSignature(int(round(ts.time * tpq)), ts.numerator, ts.denominator))
    for k in piece.key_signatures:
        score.key_signatures.append(symusic.KeySignature(int(round(k.time * tpq)), k.sharps, int(k.minor)))
    n = piece.notes
    groups = sorted({(int(t), int(p), bool(d)) for t, p, d in zip(n.track, n.program, n.is_drum)})
    for track_index, program, drum in groups:
        mask = (n.track == track_index) & (n.program == program) & (n.is_drum == drum)
        name = piece.track_names[track_index] if track_index < len(piece.track_names) else ""
        track = symusic.Track(name=name, program=program, is_drum=drum)
        starts = np.round(n.start[mask] * tpq).astype(np.int64)
        durs = np.maximum(1, np.round(n.duration[mask] * tpq).astype(np.int64))
        for s, d, p, v in zip(starts, durs, n.pitch[mask], n.velocity[mask]):
            track.notes.append(symusic.Note(int(s), int(d), int(p), int(max(1, min(127, v)))))
        score.tracks.append(track)
    return score


def save_midi(piece: Piece, path: str | os.PathLike, ticks_per_quarter: int = 480) -> None:
    """Write atomically: a crash mid-write never leaves a half file under the final name."""
    path = Path(path)
    data = piece_to_score(piece, ticks_per_quarter).dumps_midi()
    write_file_atomic(path, data)


def write_file_atomic(path: str | os.PathLike, data: bytes | Callable[[BinaryIO], object]) -> None:
    """Write `data` (bytes, or a function that writes to the open file) to a fresh temporary name beside
    `path` and rename it over `path`.

    The temporary file is created with O_EXCL|O_NOFOLLOW and an unguessable name, so a file or symlink
    planted under a predictable name (`x.mid.tmp` -> ~/.bashrc) is never written through; the rename
    replaces a symlink at `path` itself instead of following it.
    """
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else type(e).__name__
