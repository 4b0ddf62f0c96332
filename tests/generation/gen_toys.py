"""Synthetic songs for the generation tests (imported by conftest and the test files)."""

from __future__ import annotations

import numpy as np

from bridge.generation import vocab as V
from bridge.generation.encoding import BarEvents, Song


def toy_song(tonic: int = 0, mode: str = "major", meter: str = "4/4", n_bars: int = 8, seed: int = 0) -> Song:
    """I-IV-V-I progressions with a chord-tone melody: enough structure for a tiny model to learn something."""
    rng = np.random.default_rng(seed)
    third = 4 if mode == "major" else 3
    q = 0 if mode == "major" else 1
    prog = [(0, q), (5, q), (7, 0), (0, q)]
    nb = {"4/4": 4, "3/4": 3, "6/8": 2}[meter]
    ppb = {"4/4": 16, "3/4": 12, "6/8": 12}[meter]
    bars = []
    for b in range(n_bars):
        r, qq = prog[b % 4]
        root = (tonic + r) % 12
        chord = V.chord_token(root, qq, 0)
        tones = [root, (root + (third if qq == q and r == 0 else 4 if qq == 0 else 3)) % 12, (root + 7) % 12]
        notes = tuple((pos, 60 + int(rng.choice(tones)), ppb // nb) for pos in range(0, ppb, ppb // nb))
        bars.append(BarEvents((chord,) * nb, 1, b % 4 == 3, notes))
    return Song(tonic, mode, meter, 100.0, tuple(bars))
