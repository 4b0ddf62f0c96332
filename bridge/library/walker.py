"""Finding MIDI files under folders: the only part of indexing that lists directories."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MIDI_SUFFIXES = (".mid", ".midi")


@dataclass(frozen=True)
class FileStat:
    path: str  # absolute, resolved
    size: int
    mtime_ns: int


def walk_midi_files(roots: Iterable[str | os.PathLike]) -> dict[str, FileStat]:
    """Every .mid/.midi file (any case) under `roots`, keyed by resolved path.

    Unreadable folders are logged and skipped: one bad permission never stops an index run.
    Symlinked folders are not followed, so a link loop cannot hang the walk.
    """
    found: dict[str, FileStat] = {}
    for root in roots:
        root = Path(root).expanduser()
        if root.is_file():
            _add(found, root)
            continue

        def on_error(err: OSError) -> None:
            log.warning("cannot read %s: %s", err.filename, err.strerror)

        for folder, _dirs, names in os.walk(root, onerror=on_error):
            for name in names:
                if name.lower().endswith(MIDI_SUFFIXES) and not name.startswith("."):
                    _add(found, Path(folder) / name)
    return found


def _add(found: dict[str, FileStat], path: Path) -> None:
    try:
        resolved = path.resolve()
        st = resolved.stat()
    except OSError as e:
        log.warning("cannot stat %s: %s", path, e.strerror or e)
        return
    found[str(resolved)] = FileStat(str(resolved), st.st_size, st.st_mtime_ns)


def is_under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)
