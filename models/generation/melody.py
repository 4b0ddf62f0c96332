"""Melody model: a Transformer-XL style decoder that writes the lead line bar by bar in bounded memory.

- Segment recurrence: each layer attends to a fixed-length memory of the previous segments' layer inputs
  (detached), so context reaches back across bars while compute and memory stay constant per step.
- RoPE gives relative positions across memory and segment (keys at 0..M+T-1, queries at M..M+T-1).
- Conditioning on the backbone by *interleaved tokens*: every bar starts with the backbone's chords for that
  bar (BAR CH CH CH ...), then the notes. Why not cross-attention: the chords of the current bar sit right
  before the notes they govern, earlier bars' chords reach the model through the same memory as the earlier
  notes, and the ONNX graph needs a single cache (the memory) instead of a second, growing backbone input.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from bridge.generation import vocab as V
from bridge.generation.config import MelodyConfig
from models.generation.rope import apply_rotary, positions, rope_cos_sin

# The config is torch-free (bridge.generation.config): the runtime reads the same class beside the .onnx.
__all__ = ["MelodyConfig"]


class XLAttention(nn.Module):
    def __init__(self, cfg: MelodyConfig):
        super().__init__()
        self.n_head, self.hd = cfg.n_head, cfg.d_model // cfg.n_head
        self.q = nn.Linear(cfg.d_model, cfg.d_model)
        self.kv = nn.Linear(cfg.d_model, 2 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, mem, cos_q, sin_q, cos_k, sin_k, mask):
        """x (B, T, C) normalised segment, mem (B, M, C) normalised memory, mask (B, 1, T, M+T)."""
        B, T, C = x.shape
        ctx = torch.cat([mem, x], dim=1)
        k, v = self.kv(ctx).split(C, dim=2)
        q = self.q(x).view(B, T, self.n_head, self.hd).transpose(1, 2)
        k = k.view(B, -1, self.n_head, self.hd).transpose(1, 2)
        v = v.view(B, -1, self.n_head, self.hd).transpose(1, 2)
        q = apply_rotary(q, cos_q, sin_q)
        k = apply_rotary(k, cos_k, sin_k)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(self.hd)
        att = att.masked_fill(~mask, -1e9)  # finite: a fully masked row (padding) must not give NaN
        att = self.drop(F.softmax(att, dim=-1))
        return self.proj((att @ v).transpose(1, 2).reshape(B, T, C))


class XLBlock(nn.Module):
    def __init__(self, cfg: MelodyConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = XLAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(nn.Linear(cfg.d_model, cfg.d_ff), nn.GELU(), nn.Linear(cfg.d_ff, cfg.d_model),
                                 nn.Dropout(cfg.dropout))

    def forward(self, x, mem, *args):
        x = x + self.attn(self.ln1(x), self.ln1(mem), *args)
        return x + self.mlp(self.ln2(x))


class MelodyXL(nn.Module):
    def __init__(self, cfg: MelodyConfig):
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList([XLBlock(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.head.weight = self.tok.weight
        self.apply(_init)

    def empty_memory(self, batch: int, length: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.cfg
        return torch.zeros(c.n_layer, batch, length, c.d_model), torch.zeros(batch, length, dtype=torch.bool)

    def forward(self, tokens, mems=None, mem_mask=None):
        """tokens (B, T); mems (L, B, M, C) layer inputs of earlier tokens; mem_mask (B, M) true = valid.

        Returns logits (B, T, V) and hidden (L, B, T, C): this segment's layer inputs, to append to memory.
        """
        B, T = tokens.shape
        if mems is None:
            mems, mem_mask = self.empty_memory(B)
        M = mems.shape[2]
        hd = self.cfg.d_model // self.cfg.n_head
        pos_k = positions(0, M + T, tokens.device)
        cos_k, sin_k = rope_cos_sin(pos_k, hd, self.cfg.rope_base)
        cos_q, sin_q = cos_k[M:], sin_k[M:]
        causal = pos_k[None, :] <= pos_k[M:][:, None]  # (T, M+T)
        valid = torch.cat([mem_mask, torch.ones(B, T, dtype=torch.bool, device=tokens.device)], dim=1)
        mask = causal[None, None] & valid[:, None, None, :]
        x = self.drop(self.tok(tokens))
        hidden = []
        for i, block in enumerate(self.blocks):
            hidden.append(x)
            x = block(x, mems[i], cos_q, sin_q, cos_k, sin_k, mask)
        return self.head(self.ln_f(x)), torch.stack(hidden)

    @staticmethod
    def update_memory(mems, mem_mask, hidden, valid, mem_len: int):
        """Append a segment's hidden states (detached) and keep the last `mem_len` positions."""
        mems = torch.cat([mems, hidden.detach()], dim=2)[:, :, -mem_len:]
        mem_mask = torch.cat([mem_mask, valid], dim=1)[:, -mem_len:]
        return mems, mem_mask

    def sequence_loss(self, tokens: torch.Tensor, loss_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Sum of NLL and count of predicted tokens over (B, N) streams, segment by segment with memory."""
        B, N = tokens.shape
        mems, mem_mask = self.empty_memory(B)
        total = torch.zeros(())
        count = torch.zeros(())
        L = self.cfg.seg_len
        for s in range(0, N - 1, L):
            inp = tokens[:, s:s + L]
            tgt = tokens[:, s + 1:s + L + 1]
            tm = loss_mask[:, s + 1:s + L + 1].float()
            inp = inp[:, :tgt.shape[1]]
            logits, hidden = self.forward(inp, mems, mem_mask)
            nll = F.cross_entropy(logits.reshape(-1, logits.size(-1)), tgt.reshape(-1), reduction="none")
            total = total + (nll * tm.reshape(-1)).sum()
            count = count + tm.sum()
            mems, mem_mask = self.update_memory(mems, mem_mask, hidden, inp != V.PAD, self.cfg.mem_len)
        return total, count


def _init(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Embedding):
        nn.init.normal_(m.weight, std=0.02)
