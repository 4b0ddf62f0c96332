"""Held-out items for export checks: parity (test split) and int8 precision (valid split)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bridge.tokens import MidiWindow
from models.retrieval.data import TokenCache, read_clips, usable, valid_subset


def parity_items(data_dir: str | Path, window: MidiWindow, n: int) -> tuple[list[str], list[np.ndarray]]:
    """Up to n captions (every phrasing family, held-out one included) and n clips from the test split."""
    clips = read_clips(data_dir, ("test",)) or read_clips(data_dir, ("valid",))
    cache = TokenCache(data_dir, window.tokenizer)
    chosen = valid_subset(clips, n, seed=1)
    cache.ensure([c.location for c in chosen])
    chosen = usable(chosen, cache)
    texts = list(dict.fromkeys(t for c in chosen for t, _ in c.captions))[:n]
    return texts, [window.of_ids(cache.get(c.location), cache.key(c.location)) for c in chosen]


def valid_items(
    data_dir: str | Path, window: MidiWindow, n: int
) -> tuple[list[str], np.ndarray, list[np.ndarray]]:
    """Every caption of up to n valid clips, the clip index each describes, and the clips' ids.

    All captions, not one per clip: with a few hundred clips, one query per clip makes R@10 move by
    0.01 for two or three queries, too coarse to judge int8 against fp32.
    """
    clips = read_clips(data_dir, ("valid",))
    cache = TokenCache(data_dir, window.tokenizer)
    chosen = valid_subset(clips, n, seed=0)
    cache.ensure([c.location for c in chosen])
    chosen = usable(chosen, cache)
    texts = [t for c in chosen for t, _ in c.captions]
    targets = np.array([i for i, c in enumerate(chosen) for _ in c.captions])
    return texts, targets, [window.of_ids(cache.get(c.location), cache.key(c.location)) for c in chosen]
