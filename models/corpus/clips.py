"""Cut pieces into clips of whole bars: 4-16 bars at bar lines, or the whole piece when it is short."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from bridge.music import Piece


@dataclass(frozen=True)
class ClipSpec:
    name: str  # "b0-8" or "whole"
    start_bar: int
    stop_bar: int
    start: float  # quarters
    stop: float


def bars_per_clip(bar_quarters: float, choice: int = 0) -> int:
    """Clip length in bars: about 16-32 quarter notes, always 4-16 bars; `choice` varies it per piece."""
    if bar_quarters <= 1.5:  # 2/4, 3/8, 6/16: short bars
        options = (16, 12, 8)
    elif bar_quarters <= 3.5:  # 3/4, 6/8, 2/2, 3/2
        options = (8, 8, 12, 4)
    elif bar_quarters <= 4.5:  # 4/4, 9/8
        options = (8, 4, 8, 6)
    else:  # 4/2, 6/4, 12/8
        options = (4, 6, 4, 8)
    return options[choice % len(options)]


def plan_clips(piece: Piece, max_clips: int, whole_max_bars: int = 16, min_notes: int = 8,
               seed: str = "") -> list[ClipSpec]:
    """Non-overlapping bar windows with enough notes; identical windows (repeats) are kept once."""
    bars = piece.bar_starts()
    end = piece.end
    bars = bars[bars < end - 1e-6]
    n_bars = len(bars)
    if n_bars == 0:
        return []
    edges = np.append(bars, max(end, bars[-1] + piece.time_signature_at(bars[-1]).bar_quarters))
    if 2 <= n_bars <= whole_max_bars:
        return [ClipSpec("whole", 0, n_bars, 0.0, float(edges[-1]))]
    choice = int(hashlib.md5(seed.encode()).hexdigest()[:4], 16) if seed else 0
    length = bars_per_clip(piece.time_signature_at(0.0).bar_quarters, choice)
    specs: list[ClipSpec] = []
    seen: set[bytes] = set()
    starts = piece.notes.start
    for b in range(0, n_bars - 3, length):
        stop_bar = min(b + length, n_bars)
        if stop_bar - b < 4:
            break
        start_q, stop_q = float(edges[b]), float(edges[stop_bar])
        mask = (starts >= start_q - 1e-9) & (starts < stop_q - 1e-9)
        if int(mask.sum()) < min_notes:
            continue
        fingerprint = _fingerprint(piece, mask, start_q)
        if fingerprint in seen:
            continue
        seen.add(fingerprint)
        specs.append(ClipSpec(f"b{b}-{stop_bar}", b, stop_bar, start_q, stop_q))
    if len(specs) > max_clips:
        # Spread the kept clips over the whole piece rather than taking only its opening.
        keep = np.unique(np.linspace(0, len(specs) - 1, max_clips).round().astype(int))
        specs = [specs[i] for i in keep]
    return specs


def _fingerprint(piece: Piece, mask: np.ndarray, offset: float) -> bytes:
    n = piece.notes
    rel = np.round((n.start[mask] - offset) * 48).astype(np.int32)
    return hashlib.md5(rel.tobytes() + n.pitch[mask].astype(np.int16).tobytes()).digest()
