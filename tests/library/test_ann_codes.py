"""The approximate index scores candidates on the graph's own 8-bit codes (bridge.library.ann.group_scores)
and re-scores the few it keeps with their float32 vectors: the codes must stand for the vectors within the
margin every bound is compared with, and a saved index (codes memory-mapped) must score like a fresh one."""

from __future__ import annotations

import numpy as np
import pytest

from bridge.library import ann

pytest.importorskip("faiss")


class _Vectors:  # the part of a Snapshot that ann.build reads
    def __init__(self, vectors: np.ndarray):
        self.vectors, self.has_vector, self.generation = vectors, np.ones(len(vectors), bool), 1
        self.has_vector[::97] = False  # windows without a vector score -1

    def __len__(self) -> int:
        return len(self.vectors)


def test_codes_score_like_the_float_vectors_fresh_and_saved(tmp_path):
    rng = np.random.default_rng(4)
    v = rng.standard_normal((3000, 48)).astype(np.float32)
    v[1000:1300] = v[:300]  # duplicates share a group
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    snap = _Vectors(v)
    index = ann.build(snap, threads=1)
    ann.save(index, tmp_path / "x")
    loaded = ann.load(tmp_path / "x", snap)
    assert loaded is not None
    q = v[7] + 0.3 * rng.standard_normal(48).astype(np.float32)
    q /= np.linalg.norm(q)
    rows = np.arange(len(v))
    exact = np.where(snap.has_vector, v @ q, -1.0)
    for idx in (index, loaded):
        got = idx.row_scores(snap, q, rows)
        assert np.all(got[~snap.has_vector] == -1.0)
        # A bound compares two approximate scores (a candidate's and the k-th hit's): the margin covers both errors.
        assert np.max(np.abs(got - exact)) < ann.APPROX_SLACK / 2
        _rows, scanned = idx.scan(snap, q, rows)  # every group once, then per row
        np.testing.assert_allclose(scanned, got, atol=1e-5)
