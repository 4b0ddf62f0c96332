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
import os
from dataclasses import fields
from pathlib import Path

import numpy as np

from bridge.library.snapshot import Snapshot

log = logging.getLogger(__name__)

CACHE_DIR = "snapshots"
_STRING_FIELDS = {"files", "file_hashes", "key_names", "tempo_words", "meters", "texture", "register", "dynamics"}


def cache_path(db_dir: Path, db_id: str, generation: int, model: str | None) -> Path:
    model_tag = hashlib.blake2b((model or "").encode(), digest_size=6).hexdigest()
    return db_dir / CACHE_DIR / f"{db_id}-g{generation}-{model_tag}.npz"


def save(snap: Snapshot, path: Path) -> None:
    """Write `snap` to `path` atomically and delete every other cache file (older generations)."""
    arrays: dict[str, np.ndarray] = {}
    for f in fields(Snapshot):
        value = getattr(snap, f.name)
        if f.name in _STRING_FIELDS:
            arrays[f.name] = np.array(value, dtype=str)
        elif f.name in ("generation", "model"):
            arrays[f.name] = np.array("" if value is None else str(value))
        elif value is None:
            arrays[f.name] = np.zeros((0,), dtype=np.float32)  # no vectors
        else:
            arrays[f.name] = np.asarray(value)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)
    for other in path.parent.iterdir():
        if other != path:
            other.unlink(missing_ok=True)


def load(path: Path) -> Snapshot | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
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
                    values[f.name] = a if a.ndim == 2 else None
                else:
                    values[f.name] = a
        return Snapshot(**values)
    except (OSError, ValueError, KeyError, TypeError) as e:  # damaged or from an older layout: read SQLite
        log.info("ignoring snapshot cache %s: %s", path.name, e)
        return None
