"""code_dot: uint8 codes times a float vector through onnxruntime's integer matmul, as numpy would compute it."""

from __future__ import annotations

import numpy as np
import pytest

from bridge.library import code_dot as cd


@pytest.fixture(scope="module")
def codes() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(9_000, 384), dtype=np.uint8)


@pytest.mark.parametrize("rows", [None, "subset", "small", "repeated"])
def test_matches_the_float_product(codes, rows):
    rng = np.random.default_rng(1)
    w = (rng.normal(size=384) * 1e-3).astype(np.float32)
    picked = {
        None: None,
        "subset": np.sort(rng.choice(len(codes), 5_000, replace=False)),  # several chunks, above SMALL
        "small": rng.choice(len(codes), 40, replace=False),  # numpy's path
        "repeated": rng.integers(0, len(codes), 3_000),  # unsorted, with repeats
    }[rows]
    want = (codes if picked is None else codes[picked]).astype(np.float64) @ w.astype(np.float64)
    got = cd.code_dot(codes, picked, w)
    assert got.dtype == np.float32 and got.shape == want.shape
    # Within the rounding of the low 7-bit part (each weight within s_lo / 2; ~2e-5 of a cosine on real
    # vectors, against the codes' own ~1e-3), and the integer products are exact.
    _parts, _s_hi, s_lo = cd.split_weights(w)
    assert np.abs(got - want).max() <= 255 * 384 * s_lo / 2
    assert np.abs(got - want).max() <= 2e-4 * np.abs(want).max()


def test_weights_split_into_two_seven_bit_parts():
    w = np.array([0.5, -0.25, 1e-4, 0.0, -1.0])
    parts, s_hi, s_lo = cd.split_weights(w)
    assert parts.dtype == np.int8 and parts.shape == (5, 2)
    assert np.abs(parts).max() <= 63  # u8 x s8 pair sums never saturate 16 bits (255 * 63 * 2 < 32767)
    assert np.allclose(parts[:, 0] * s_hi + parts[:, 1] * s_lo, w, atol=1e-4)


def test_a_zero_vector_scores_zero(codes):
    assert not cd.code_dot(codes, None, np.zeros(384, dtype=np.float32)).any()


def test_extreme_codes_and_weights_do_not_saturate():
    codes = np.full((1_000, 384), 255, dtype=np.uint8)
    w = np.full(384, 1.0, dtype=np.float32)
    assert np.allclose(cd.code_dot(codes, None, w), 255.0 * 384)
    assert np.allclose(cd.code_dot(codes, None, -w), -255.0 * 384)


def test_the_shipped_graph_is_what_export_writes():
    pytest.importorskip("onnx")
    from bridge.paths import code_dot_model
    from export.code_dot import code_dot_bytes

    assert code_dot_model().read_bytes() == code_dot_bytes()
