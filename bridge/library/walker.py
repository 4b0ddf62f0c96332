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


@dataclass(frozen=True)
class Refused:
    """A file the walk found but will not index: a link whose target lies outside the indexed folders."""

    path: str  # the link, as found under a root
    size: int  # of the link itself (lstat), so an unchanged refusal is recognised
    mtime_ns: int
    reason: str


def walk_midi_files(
    roots: Iterable[str | os.PathLike],
    refused: list[Refused] | None = None,
    allowed: Iterable[str | os.PathLike] | None = None,
) -> dict[str, FileStat]:
    """Every .mid/.midi file (any case) under `roots`, keyed by resolved path.

    Unreadable folders are logged and skipped: one bad permission never stops an index run.
    Symlinked folders are not followed, so a link loop cannot hang the walk. A file symlink is followed only
    when its target resolves inside one of `allowed` (default: `roots`; the indexer passes every indexed
    folder); the others are left out (and appended to `refused`), so a link planted in a library folder
    cannot make the index read, and searches reveal, files elsewhere.
    """
    roots = [Path(r).expanduser() for r in roots]
    resolved_roots = []
    for r in roots if allowed is None else [Path(a).expanduser() for a in allowed]:
        try:
            resolved_roots.append(str(r.resolve()))
        except OSError:
            resolved_roots.append(str(r.absolute()))
    found: dict[str, FileStat] = {}
    for root in roots:
        if root.is_file():
            _add(found, root, resolved_roots, refused)
            continue

        def on_error(err: OSError) -> None:
            log.warning("cannot read %s: %s", err.filename, err.strerror)

        for folder, _dirs, names in os.walk(root, onerror=on_error):
            for name in names:
                if name.lower().endswith(MIDI_SUFFIXES) and not name.startswith("."):
                    _add(found, Path(folder) / name, resolved_roots, refused)
    return found


def _add(found: dict[str, FileStat], path: Path, roots: list[str], refused: list[Refused] | None) -> None:
    try:
        resolved = path.resolve()
        st = resolved.stat()
    except (OSError, RuntimeError) as e:  # RuntimeError: a symlink loop on older Pythons
        log.warning("cannot stat %s: %s", path, getattr(e, "strerror", None) or e)
        return
    if not is_under(str(resolved), roots):
        reason = f"a link to {resolved}, outside the indexed folders: not followed"
        log.warning("%s: %s", path, reason)
        if refused is not None:
            try:
                lst = path.lstat()
                refused.append(Refused(str(path), lst.st_size, lst.st_mtime_ns, reason))
            except OSError:
                pass
        return
    found[str(resolved)] = FileStat(str(resolved), st.st_size, st.st_mtime_ns)


def is_under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)
