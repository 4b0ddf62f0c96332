"""Helpers shared by the web tests."""

from __future__ import annotations

import io
import wave

import numpy as np


def note_tuples(piece) -> list[tuple]:
    n = piece.notes
    return sorted((round(float(s), 3), round(float(d), 3), int(p), int(v))
                  for s, d, p, v in zip(n.start, n.duration, n.pitch, n.velocity))


def wav_rms(data: bytes) -> tuple[float, float]:
    """(RMS in full scale, seconds) of a 16-bit WAV."""
    with wave.open(io.BytesIO(data)) as w:
        assert w.getsampwidth() == 2
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
        seconds = w.getnframes() / w.getframerate()
    return float(np.sqrt(np.mean(frames ** 2)) / 32768.0) if len(frames) else 0.0, seconds
