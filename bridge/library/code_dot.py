"""Dot products of 8-bit codes with a float vector, fast: the inner loop of scoring many candidates.

A large tier of a big library (a key, an instrument family: 1-10 % of a million windows) is scored on the
approximate index's uint8 codes. numpy has no fast uint8 x float32 product (einsum casts element by element;
~0.1 us a 384-byte row, most of a 40k-row scan), but onnxruntime's integer matmul (VNNI or vpmaddubsw kernels)
does ~0.03 us a row. The float weights are split into two 7-bit integer parts, w ~ s_hi * hi + s_lo * lo, so
the product matches the float one to ~1e-6 of a cosine (the codes' own error is ~1e-3), and no pair of
products can saturate the 16-bit accumulators of CPUs without VNNI (255 * 63 * 2 < 32767, the reason
onnxruntime's own int8 models use reduce_range). Rows are gathered with `np.take` (3x faster than fancy
indexing on 2-D uint8) in chunks, so memory stays bounded whatever the number of rows.
"""

from __future__ import annotations

import threading

import numpy as np

SEVEN_BITS = 63.0  # |weight| <= 63: no int16 saturation in u8 x s8 pair sums without VNNI
SMALL = 512  # fewer rows than this: numpy (an onnxruntime call costs ~20 us)
CHUNK = 4096  # rows gathered at once (1.5 MB of 384-byte codes: stays in cache for the matmul)

_session = None
_lock = threading.Lock()


def split_weights(w: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(D, 2) int8 [hi, lo] and their scales with w ~ s_hi * hi + s_lo * lo (both parts within +-63)."""
    w = np.asarray(w, dtype=np.float64)
    s_hi = float(np.abs(w).max()) / SEVEN_BITS or 1.0
    hi = np.round(w / s_hi)
    rest = w - s_hi * hi
    s_lo = float(np.abs(rest).max()) / SEVEN_BITS or 1.0
    lo = np.round(rest / s_lo)
    return np.stack([hi, lo], axis=1).astype(np.int8), s_hi, s_lo


def code_dot(codes: np.ndarray, rows: np.ndarray | None, w: np.ndarray) -> np.ndarray:
    """float32 `codes[rows] @ w` (every row when `rows` is None) for uint8 `codes` (N, D) and float `w` (D,)."""
    n = len(codes) if rows is None else len(rows)
    if n < SMALL:
        part = codes if rows is None else np.take(codes, rows, axis=0)
        return np.einsum("ij,j->i", part, np.asarray(w, dtype=np.float32)).astype(np.float32)
    weights, s_hi, s_lo = split_weights(w)
    session = _integer_matmul()
    out = np.empty(n, dtype=np.float32)
    for lo in range(0, n, CHUNK):
        hi = min(lo + CHUNK, n)
        part = codes[lo:hi] if rows is None else np.take(codes, rows[lo:hi], axis=0)
        y = session.run(None, {"codes": np.ascontiguousarray(part), "weights": weights})[0]
        out[lo:hi] = y[:, 0] * s_hi + y[:, 1] * s_lo
    return out


def _integer_matmul():
    """One onnxruntime session of the shipped one-node graph (export/code_dot.py): codes uint8 (n, D), weights
    int8 (D, 2) -> int32 (n, 2); one thread, as search runs."""
    global _session
    with _lock:
        if _session is None:
            import onnxruntime as ort

            from bridge.paths import code_dot_model

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            _session = ort.InferenceSession(str(code_dot_model()), opts, providers=["CPUExecutionProvider"])
        return _session
