"""Hostile but small MIDI files and index damage for the hardening tests (issue 12)."""

from __future__ import annotations

import os
import struct
from pathlib import Path

NOTE = b"\x00\x90\x3c\x40\x60\x80\x3c\x00\x00\xff\x2f\x00"  # one middle C, then end of track


def midi_bytes(fmt: int, tracks: list[bytes], division: int = 96) -> bytes:
    chunks = b"".join(b"MTrk" + struct.pack(">I", len(t)) + t for t in tracks)
    return b"MThd" + struct.pack(">IHHH", 6, fmt, len(tracks), division) + chunks


def write_many_tracks(path: Path, n: int = 33_000) -> Path:
    """A valid type-1 file with `n` one-note tracks (the header allows up to 65,535)."""
    path.write_bytes(midi_bytes(1, [NOTE] * n))
    return path


def write_repeated_absurd_tempo(path: Path, repeats: int = 6) -> Path:
    import symusic

    score = symusic.Score(480)
    for i in range(repeats):
        score.tempos.append(symusic.Tempo(i * 8 * 480, 8.0))
    track = symusic.Track(program=0)
    for i in range(48):
        track.notes.append(symusic.Note(i * 480, 240, 60 + i % 12, 80))
    score.tracks.append(track)
    score.dump_midi(str(path))
    return path


def overwrite_pages(db_file: Path, fraction: float = 0.25, seed: int = 0, page: int = 4096) -> None:
    """Random pages (never the first, which holds the header) overwritten with random bytes."""
    import random

    rng = random.Random(seed)
    n = os.path.getsize(db_file) // page
    with open(db_file, "r+b") as f:
        for p in rng.sample(range(1, n), max(1, int((n - 1) * fraction))):
            f.seek(p * page)
            f.write(rng.randbytes(page))


def descendants(pid: int) -> set[int]:
    """Live (non-zombie) processes below `pid`, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    state: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state[int(entry)] = fields[0]
        children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return {p for p in out if state.get(p) != "Z"}


def alive(pids: set[int]) -> set[int]:
    """The pids of `pids` that still run (gone or zombie = dead)."""
    out = set()
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    out.add(p)
        except OSError:
            pass
    return out
