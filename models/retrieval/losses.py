"""Contrastive losses over a batch of matched (text, MIDI) pairs; row i of each side belongs together."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def margin_ranking_loss(text: torch.Tensor, midi: torch.Tensor, margin: float, same: torch.Tensor) -> torch.Tensor:
    """Hinge on the hardest in-batch negative, text->MIDI and MIDI->text (the reference design, VSE++ style).

    text, midi (B, D) normalised; same (B, B) bool marks pairs that must not count as negatives
    (the diagonal, and different clips whose captions are the same sentence).
    """
    sim = text @ midi.t()  # (B, B): row = text anchor, column = clip
    pos = sim.diag()
    neg = sim.masked_fill(same, -2.0)  # cosine >= -1, so masked entries never win the max
    hardest_clip = neg.max(dim=1).values  # for each text, the closest wrong clip
    hardest_text = neg.max(dim=0).values  # for each clip, the closest wrong text
    loss = F.relu(margin - pos + hardest_clip) + F.relu(margin - pos + hardest_text)
    return loss.mean()


def info_nce_loss(
    text: torch.Tensor, midi: torch.Tensor, log_inv_temp: torch.Tensor, same: torch.Tensor
) -> torch.Tensor:
    """Symmetric cross-entropy over cosine / temperature (CLIP); the temperature is learned, capped at 1/100."""
    scale = log_inv_temp.clamp(max=4.6052).exp()
    eye = torch.eye(len(text), dtype=torch.bool, device=text.device)
    logits = (text @ midi.t()) * scale
    logits = logits.masked_fill(same & ~eye, float("-inf"))
    target = torch.arange(len(text), device=text.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))


def same_caption_mask(text_vectors: torch.Tensor, threshold: float = 0.999) -> torch.Tensor:
    """(B, B) bool: the diagonal plus pairs whose frozen caption vectors are (nearly) identical sentences."""
    sim = text_vectors @ text_vectors.t()
    eye = torch.eye(len(text_vectors), dtype=torch.bool, device=text_vectors.device)
    return eye | (sim > threshold)


def contrastive_loss(kind: str, text, midi, *, margin: float, log_inv_temp, same) -> torch.Tensor:
    if kind == "margin":
        return margin_ranking_loss(text, midi, margin, same)
    if kind == "infonce":
        return info_nce_loss(text, midi, log_inv_temp, same)
    raise ValueError(f"unknown loss {kind!r}")
