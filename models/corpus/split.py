"""Train/valid/test by piece: every clip of a piece lands in the same split, decided by a hash of its id."""

from __future__ import annotations

import hashlib

SPLITS = ("train", "valid", "test")


def split_of(piece_id: str, fractions: tuple[float, float, float] = (0.9, 0.05, 0.05),
             seed: str = "midibridge-corpus-v1") -> str:
    """Deterministic: the same piece gets the same split on every machine and every rebuild."""
    h = int(hashlib.sha1(f"{seed}|{piece_id}".encode()).hexdigest()[:12], 16) / float(1 << 48)
    train, valid, _test = fractions
    if h < train:
        return "train"
    if h < train + valid:
        return "valid"
    return "test"
