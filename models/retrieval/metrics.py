"""Ranking metrics (numpy only): shared by the torch and ONNX evaluation paths and by training's valid R@10."""

from __future__ import annotations

import numpy as np


def ranks_from_scores(scores: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """1-based rank of the best correct candidate in each row, with ties counted half.

    scores (nq, nc) float; correct (nq, nc) bool with at least one True per row. A wrong candidate
    scoring exactly like the best correct one costs half a place, so a scorer full of ties (the
    feature baseline) gets its expected rank under random tie-breaking, not a lucky one.
    """
    best = np.where(correct, scores, -np.inf).max(axis=1, keepdims=True)
    wrong = ~correct
    above = ((scores > best) & wrong).sum(axis=1)
    tied = ((scores == best) & wrong).sum(axis=1)
    return 1.0 + above + 0.5 * tied


def target_ranks(scores: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Ranks when each row has exactly one correct column `target[i]`."""
    correct = np.zeros(scores.shape, dtype=bool)
    correct[np.arange(len(target)), target] = True
    return ranks_from_scores(scores, correct)


def summarize(ranks: np.ndarray) -> dict:
    ranks = np.asarray(ranks, dtype=np.float64)
    if len(ranks) == 0:
        return {"n": 0}
    return {
        "n": int(len(ranks)),
        "R@1": float(np.mean(ranks <= 1)),
        "R@5": float(np.mean(ranks <= 5)),
        "R@10": float(np.mean(ranks <= 10)),
        "MRR": float(np.mean(1.0 / ranks)),
        "median_rank": float(np.median(ranks)),
    }


def recall_at(text: np.ndarray, midi: np.ndarray, k: int = 10) -> float:
    """text->MIDI R@k for row-aligned pairs (row i of `text` describes row i of `midi`)."""
    return float(np.mean(target_ranks(text @ midi.T, np.arange(len(text))) <= k))
