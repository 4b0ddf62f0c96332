"""Training-only linear heads that read key, meter, tempo and instruments off the MIDI embedding.

See `aux_targets.py` for why. They sit on the normalised shared-space vector, so what they teach is
linearly present where the text side can meet it. Never exported.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.retrieval.aux_targets import HEAD_SIZES, IGNORE


class AuxHeads(nn.Module):
    def __init__(self, embed_dim: int):
        super().__init__()
        self.scale = math.sqrt(embed_dim)  # unit vectors -> logits with useful range from small weights
        self.heads = nn.ModuleDict({name: nn.Linear(embed_dim, n) for name, n in HEAD_SIZES.items()})

    def forward(self, midi: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: head(midi * self.scale) for name, head in self.heads.items()}


def aux_loss(logits: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean of the per-head losses; a head whose targets are all unknown in this batch adds nothing."""
    losses = []
    for name, out in logits.items():
        target = targets[name]
        if name == "instruments":
            losses.append(F.binary_cross_entropy_with_logits(out.float(), target.float()))
        elif (target != IGNORE).any():
            losses.append(F.cross_entropy(out.float(), target, ignore_index=IGNORE))
    return torch.stack(losses).mean() if losses else logits["key"].sum() * 0.0


@torch.no_grad()
def aux_accuracy(logits: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, float]:
    """Top-1 accuracy of each single-label head over known targets (for the training log)."""
    acc = {}
    for name, out in logits.items():
        if name == "instruments":
            continue
        known = targets[name] != IGNORE
        if known.any():
            acc[name] = float((out.argmax(dim=1)[known] == targets[name][known]).float().mean())
    return acc
