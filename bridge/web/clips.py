"""A hit of a web search as what the page needs: its Piece (read by the worker), MIDI bytes, notes, a file name.

Hits are named by (search id, rank) of a search the daemon remembers, never by a path from the request; and
a hit's file is used only when its real path lies inside an indexed folder (a symlink out of the library is
refused like any other outside path).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

from bridge.daemon.protocol import ProtocolError
from bridge.music import Piece
from bridge.music.midi_file import piece_to_score


class OutsideLibrary(ProtocolError):
    """A file whose real path is not inside the indexed folders."""


def inside_roots(path: str | Path, roots: list[Path]) -> Path:
    """The real path of `path` if it lies inside one of `roots` (resolved too), else OutsideLibrary."""
    real = Path(path).expanduser().resolve()
    real_roots = [Path(r).expanduser().resolve() for r in roots]
    if not real_roots:
        raise OutsideLibrary("the library has no indexed folders: no file can be served")
    if not any(real == r or r in real.parents for r in real_roots):
        raise OutsideLibrary(f"refused: {Path(path).name!r} is not inside the indexed folders")
    return real


def piece_midi(piece: Piece) -> bytes:
    return bytes(piece_to_score(piece).dumps_midi())


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def download_name(hit: Any) -> str:
    """'waltz_a_minor_bars-1-8.mid': the file's stem, the bars, nothing a file system or a header chokes on."""
    stem = _SAFE.sub("-", Path(str(hit.file)).stem).strip("-._") or "clip"
    return f"{stem[:80]}_bars-{int(hit.window_start_bar)}-{int(hit.window_end_bar)}.mid"


def notes_json(piece: Piece, hit: Any) -> dict:
    """Notes as columns (compact JSON) with their track, and one entry per track: the piano roll's input."""
    from bridge.analysis.instruments import program_name

    n = piece.notes
    tracks = []
    track_ids = sorted({int(t) for t in n.track})
    for t in track_ids:
        mask = n.track == t
        programs = n.program[mask]
        drum = bool(n.is_drum[mask].any())
        program = int(programs[0]) if len(programs) else 0
        name = piece.track_names[t] if t < len(piece.track_names) else ""
        tracks.append({"track": t, "name": name, "program": program, "is_drum": drum,
                       "instrument": "drums" if drum else program_name(program), "notes": int(mask.sum())})
    length = float(getattr(hit, "end_quarters", 0.0) - getattr(hit, "start_quarters", 0.0)) or piece.end
    ts = piece.time_signature_at(0.0)
    return {
        "notes": {
            "start": [round(float(x), 4) for x in n.start],
            "duration": [round(float(x), 4) for x in n.duration],
            "pitch": [int(x) for x in n.pitch],
            "velocity": [int(x) for x in n.velocity],
            "track": [int(x) for x in n.track],
        },
        "count": len(n),
        "tracks": tracks,
        "length_quarters": round(length, 4),
        "bar_starts": [round(float(b), 4) for b in piece.bar_starts(max(length, piece.end))],
        "tempo": round(float(piece.tempo_at(0.0)), 2),
        "meter": f"{ts.numerator}/{ts.denominator}",
        "seconds": round(float(piece.seconds_at(length)), 3),
    }


class ClipCache:
    """The last few hits' Pieces and MIDI bytes (the page asks for notes, audio and the file of one hit)."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[tuple, tuple[Piece, bytes]] = OrderedDict()

    def get(self, hit: Any, version: int = 0) -> tuple[Piece, bytes] | None:
        key = self.key(hit, version)
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, hit: Any, piece: Piece, midi: bytes, version: int = 0) -> None:
        key = self.key(hit, version)
        self._items[key] = (piece, midi)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    @staticmethod
    def key(hit: Any, version: int) -> tuple:
        """`version`: the file's mtime, so an edited file is read again."""
        return (str(hit.file), float(getattr(hit, "start_quarters", 0.0)), float(getattr(hit, "end_quarters", 0.0)),
                version)
