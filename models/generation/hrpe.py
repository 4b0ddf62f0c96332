"""H-RPE, harmonic relative positional encoding: a learned per-head attention bias indexed by the harmonic
relation between the query's chord and the key's chord (docs/hrpe.md).

RoPE says *how far apart* two events are; H-RPE says *how they relate harmonically* (root interval mod 12 and
common tones, bridge.generation.vocab.harmonic_relation_table), which is transposition invariant: V->I in C
major gets the same bias as V->I in F# major. Plain functions plus one small module, added to the logits.
"""

from __future__ import annotations

import torch
from torch import nn


def relation_ids(table: torch.Tensor, harm_q: torch.Tensor, harm_k: torch.Tensor) -> torch.Tensor:
    """(B, Tq, Tk) relation ids from harmonic ids of queries (B, Tq) and keys (B, Tk)."""
    n = table.shape[0]
    flat = harm_q[:, :, None] * n + harm_k[:, None, :]
    return table.reshape(-1)[flat]


class HarmonicBias(nn.Module):
    """Per-head bias per relation id; zero-initialised so training starts from RoPE-only attention."""

    def __init__(self, n_relations: int, n_head: int):
        super().__init__()
        self.bias = nn.Embedding(n_relations, n_head)
        nn.init.zeros_(self.bias.weight)

    def forward(self, rel: torch.Tensor) -> torch.Tensor:
        return self.bias(rel).permute(0, 3, 1, 2)  # (B, H, Tq, Tk)
