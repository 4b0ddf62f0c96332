"""Numpy sampling: temperature, nucleus (top-p), seeded, with additive logit biases and hard masks."""

from __future__ import annotations

import numpy as np


def softmax(x: np.ndarray) -> np.ndarray:
    z = x - np.max(x)
    e = np.exp(z)
    return e / e.sum()


def sample(logits: np.ndarray, rng: np.random.Generator, temperature: float = 1.0, top_p: float = 0.95,
           allowed: np.ndarray | None = None, bias: np.ndarray | None = None) -> int:
    """One token id from 1-D `logits`; `allowed` (bool) masks hard, `bias` (float) nudges softly.

    temperature <= 0 means greedy. At least one allowed token must exist.
    """
    x = np.asarray(logits, dtype=np.float64).copy()
    if bias is not None:
        x = x + bias
    if allowed is not None:
        x = np.where(allowed, x, -np.inf)
    if temperature <= 0:
        return int(np.argmax(x))
    p = softmax(x / temperature)
    if top_p < 1.0:
        order = np.argsort(-p)
        cum = np.cumsum(p[order])
        keep = order[: int(np.searchsorted(cum, top_p) + 1)]
        q = np.zeros_like(p)
        q[keep] = p[keep]
        p = q / q.sum()
    return int(rng.choice(len(p), p=p))
