"""Writing search hits out as MIDI files, one per hit, for dragging into a DAW."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from bridge.library.types import Hit
from bridge.music import MidiFileError, Piece, save_midi

log = logging.getLogger(__name__)


def hit_filename(rank: int, hit: Hit) -> str:
    """'03_bwv10_7_bars5-12.mid': rank first so a file browser keeps the result order."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(hit.file).stem).strip("_") or "clip"
    return f"{rank:02d}_{stem}_bars{hit.window_start_bar}-{hit.window_end_bar}.mid"


def export_hits(hits: Sequence[Hit], out_dir: Path, load: Callable[[Hit], Piece]) -> list[Path]:
    """Save each hit's window; a hit whose file vanished since indexing is logged and left out.

    Each file is written by `save_midi`: to a fresh O_EXCL|O_NOFOLLOW temporary name, then renamed into place,
    so nothing planted in `out_dir` (a `<name>.tmp` or `<name>` symlink) is ever written through.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for rank, hit in enumerate(hits, start=1):
        try:
            piece = load(hit)
        except (OSError, MidiFileError) as e:
            log.warning("cannot export %s: %s", hit.file, e)
            continue
        path = out_dir / hit_filename(rank, hit)
        save_midi(piece, path)
        written.append(path)
    return written
