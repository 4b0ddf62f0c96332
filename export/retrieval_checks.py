"""Held-out items for export checks: parity (test split) and int8 precision (valid split)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bridge.tokens import crop_ids
from models.retrieval.data import TokenCache, read_clips, usable, valid_subset


def parity_items(data_dir: str | Path, tokenizer, max_len: int, n: int) -> tuple[list[str], list[np.ndarray]]:
    """Up to n captions (every phrasing family, held-out one included) and n clips from the test split."""
    clips = read_clips(data_dir, ("test",)) or read_clips(data_dir, ("valid",))
    cache = TokenCache(data_dir, tokenizer)
    chosen = valid_subset(clips, n, seed=1)
    cache.ensure([c.location for c in chosen])
    chosen = usable(chosen, cache)
    texts = list(dict.fromkeys(t for c in chosen for t, _ in c.captions))[:n]
    return texts, [crop_ids(cache.get(c.location), max_len, bar=-1) for c in chosen]


def valid_items(data_dir: str | Path, tokenizer, max_len: int, n: int) -> tuple[list[str], list[np.ndarray]]:
    """Row-aligned (caption, clip) pairs from the valid split: the first caption of up to n clips."""
    clips = read_clips(data_dir, ("valid",))
    cache = TokenCache(data_dir, tokenizer)
    chosen = valid_subset(clips, n, seed=0)
    cache.ensure([c.location for c in chosen])
    chosen = usable(chosen, cache)
    return [c.captions[0][0] for c in chosen], [crop_ids(cache.get(c.location), max_len, bar=-1) for c in chosen]
