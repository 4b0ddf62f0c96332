"""A disk copy of the snapshot per (index, generation, model), so opening a library is one file read.

Reading 10k windows and their vectors out of SQLite costs 0.1-0.5 s (Python row objects); this cache
loads the same arrays in tens of ms, which every `midibridge search` and every daemon start pays.
It is only an accelerator: the name holds the index id, the generation and the model, so a cache file
can never be mistaken for another state, and a missing or damaged file just means reading SQLite.
Files are written to a temporary name and renamed, so a crash never leaves a half file under a real name.
"""

from __future__ import annotations

import hashlib
import logging
import mmap
from dataclasses import fields
from pathlib import Path

import numpy as np

from bridge.library.snapshot import WORD_COLUMNS, Snapshot

log = logging.getLogger(__name__)

CACHE_DIR = "snapshots"
VECTORS_SUFFIX = ".vectors.npy"
_STRING_FIELDS = {"files", "file_hashes", "meters", *(vocab for _codes, vocab, _name in WORD_COLUMNS)}
# Bumped when the arrays stored change (2: word columns as codes + vocabularies, instruments packed only); a file
# of another layout is ignored (the snapshot is read from SQLite and cached again).
LAYOUT = 2


def cache_path(db_dir: Path, db_id: str, generation: int, model: str | None) -> Path:
    model_tag = hashlib.blake2b((model or "").encode(), digest_size=6).hexdigest()
    return db_dir / CACHE_DIR / f"{db_id}-g{generation}-{model_tag}.npz"


def save(snap: Snapshot, path: Path) -> None:
    """Write `snap` to `path` atomically and delete every other cache file (older generations)."""
    arrays: dict[str, np.ndarray] = {"layout": np.array(LAYOUT)}
    for f in fields(Snapshot):
        value = getattr(snap, f.name)
        if f.name in _STRING_FIELDS:
            arrays[f.name] = np.array(value, dtype=str)
        elif f.name in ("generation", "model"):
            arrays[f.name] = np.array("" if value is None else str(value))
        elif value is None or f.name == "vectors":
            arrays[f.name] = np.zeros((0,), dtype=np.float32)  # no vectors, or in their own file (below)
        else:
            arrays[f.name] = np.asarray(value)
    path.parent.mkdir(parents=True, exist_ok=True)
    from bridge.music.midi_file import write_file_atomic  # fresh O_EXCL|O_NOFOLLOW temp name, then rename

    if snap.vectors is not None:
        # The matrix in a plain .npy beside it, memory-mapped on load: a cold start reads no vector, and a search
        # through the approximate index pages in only its candidates' rows. Written first: the .npz naming it
        # exists only once the matrix is complete under its real name.
        vectors = np.ascontiguousarray(snap.vectors, dtype=np.float32)
        write_file_atomic(vectors_path(path), lambda f: np.save(f, vectors))
        arrays["vectors_shape"] = np.array(vectors.shape, dtype=np.int64)
    write_file_atomic(path, lambda f: np.savez(f, **arrays))
    prune(path)


def vectors_path(path: Path) -> Path:
    return path.with_name(path.name[: -len(path.suffix)] + VECTORS_SUFFIX)


def prune(path: Path) -> None:
    """Delete every cache file but those of `path`'s generation (snapshots, with or without the model, and the
    approximate index, `bridge.library.ann`): names are `<db id>-g<generation>-<model tag>...`."""
    keep = path.name.rsplit("-", 1)[0] + "-"
    for other in path.parent.iterdir():
        if other != path and not other.name.startswith(keep):
            try:
                other.unlink(missing_ok=True)
            except OSError:  # in use elsewhere (Windows), or already gone: the next save tries again
                pass


def load(path: Path) -> Snapshot | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if "layout" not in data.files or int(data["layout"]) != LAYOUT:
                raise ValueError("written by another version")
            values = {}
            for f in fields(Snapshot):
                a = data[f.name]
                if f.name in _STRING_FIELDS:
                    values[f.name] = tuple(a.tolist())
                elif f.name == "generation":
                    values[f.name] = int(a)
                elif f.name == "model":
                    values[f.name] = str(a) or None
                elif f.name == "vectors":
                    values[f.name] = a if a.ndim == 2 else None  # an older layout held the matrix inline
                    if "vectors_shape" in data.files:
                        matrix = np.load(vectors_path(path), mmap_mode="r", allow_pickle=False)
                        _random_access(matrix)
                        if matrix.shape != tuple(data["vectors_shape"].tolist()) or matrix.dtype != np.float32:
                            raise ValueError(f"vector file {matrix.shape} does not match {data['vectors_shape']}")
                        values[f.name] = matrix
                else:
                    values[f.name] = a
        return Snapshot(**values)
    except (OSError, ValueError, KeyError, TypeError) as e:  # damaged or from an older layout: read SQLite
        log.info("ignoring snapshot cache %s: %s", path.name, e)
        return None


def _random_access(matrix: np.ndarray) -> None:
    """Tell the kernel that rows of the map are read at random (a search reads a few hundred rows): no
    read-ahead and no fault-around, so each row read maps its own page, not the 64 KB around it."""
    m = getattr(matrix, "_mmap", None)
    advice = getattr(mmap, "MADV_RANDOM", None)
    if m is not None and advice is not None:
        try:
            m.madvise(advice)
        except (OSError, ValueError):
            pass


def saved_ann_unique(db_dir: Path, db_id: str, generation: int) -> int | None:
    """Distinct vectors in the approximate index saved for this generation (any model), None if there is none."""
    from bridge.library import ann

    for groups in sorted((db_dir / CACHE_DIR).glob(f"{db_id}-g{generation}-*{ann.GROUPS_SUFFIX}")):
        found = ann.saved_unique(groups.with_name(groups.name[: -len(ann.GROUPS_SUFFIX)]))
        if found is not None:
            return found
    return None
