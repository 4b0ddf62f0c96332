"""Content hashes: how a renamed or touched-but-unchanged file is recognised."""

from __future__ import annotations

import hashlib
import os

_CHUNK = 1 << 20


def content_hash(path: str | os.PathLike) -> str:
    """BLAKE2b-128 of the file's bytes (fast, and collisions are not a concern for a personal library)."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def bytes_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()
