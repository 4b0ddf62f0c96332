"""Rotary position embedding as plain functions (lucidrains style): the caller picks where to apply it.

Positions are explicit so cached decoding passes `offset` = number of cached positions.
"""

from __future__ import annotations

import torch


def rope_cos_sin(positions: torch.Tensor, dim: int, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin of shape (T, dim) for integer or float positions (T,)."""
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32, device=positions.device) / dim))
    freqs = positions.to(torch.float32)[:, None] * inv_freq[None, :]  # (T, dim/2)
    freqs = torch.cat([freqs, freqs], dim=-1)
    return freqs.cos(), freqs.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x (B, H, T, hd) rotated by the angles of its T positions."""
    return x * cos + rotate_half(x) * sin


def positions(offset, length: int | torch.Tensor, device=None) -> torch.Tensor:
    """offset .. offset + length - 1; both may be traced sizes (ONNX export keeps them dynamic)."""
    return torch.arange(length, device=device) + offset
