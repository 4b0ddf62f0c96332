"""A stand-in encoder at the library's edge: deterministic vectors, so the embedding lifecycle
(lazy embedding, re-embedding on a model change) is testable without a shipped model."""

from __future__ import annotations

import hashlib

import numpy as np

from bridge.analysis.key import pitch_class_histogram


class FakeEncoder:
    dim = 16

    def __init__(self, name: str = "fake-v1"):
        self.name = name
        self.fingerprint = hashlib.sha1(name.encode()).hexdigest()[:8]
        self.pieces_encoded = 0

    def encode_text(self, texts):
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            out[i, int(hashlib.sha1(t.encode()).hexdigest(), 16) % self.dim] = 1.0
        return out

    def encode_pieces(self, pieces):
        self.pieces_encoded += len(pieces)
        out = np.zeros((len(pieces), self.dim), np.float32)
        for i, p in enumerate(pieces):
            out[i, :12] = pitch_class_histogram(p.notes)
            out[i, 12] = len(p.notes) / 100.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
