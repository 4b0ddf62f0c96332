"""Backbone model: a causal Transformer decoder over the chord/structure stream, RoPE + optional H-RPE.

Incremental decoding carries past keys/values *and the past harmonic ids* (H-RPE needs the cached events'
chords to bias a new query against them), so the ONNX graph takes `past_harm` as an input.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from bridge.generation import vocab as V
from bridge.generation.config import BackboneConfig
from models.generation.hrpe import HarmonicBias, relation_ids
from models.generation.rope import apply_rotary, positions, rope_cos_sin

# The config is torch-free (bridge.generation.config): the runtime reads the same class beside the .onnx.
__all__ = ["BackboneConfig"]


class Attention(nn.Module):
    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        self.n_head, self.hd = cfg.n_head, cfg.d_model // cfg.n_head
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.hbias = HarmonicBias(cfg.n_relations, cfg.n_head) if cfg.use_hrpe else None

    def forward(self, x, cos_q, sin_q, cos_k, sin_k, mask, rel, past_k, past_v):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, self.hd).transpose(1, 2) for t in (q, k, v))  # (B, H, T, hd)
        k = torch.cat([past_k, k], dim=2)
        v = torch.cat([past_v, v], dim=2)
        q = apply_rotary(q, cos_q, sin_q)
        # Keys are cached *unrotated* so the cache is position free; rotation uses their absolute positions.
        kr = apply_rotary(k, cos_k, sin_k)
        att = (q @ kr.transpose(-2, -1)) / math.sqrt(self.hd)  # (B, H, T, P+T)
        if self.hbias is not None:
            att = att + self.hbias(rel)
        att = att.masked_fill(~mask, float("-inf"))
        att = self.drop(F.softmax(att, dim=-1))
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        return self.proj(y), k, v


class Block(nn.Module):
    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = Attention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(nn.Linear(cfg.d_model, cfg.d_ff), nn.GELU(), nn.Linear(cfg.d_ff, cfg.d_model),
                                 nn.Dropout(cfg.dropout))

    def forward(self, x, *args):
        a, k, v = self.attn(self.ln1(x), *args)
        x = x + a
        return x + self.mlp(self.ln2(x)), k, v


class Backbone(nn.Module):
    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.head.weight = self.tok.weight  # weight tying: small data, small model
        self.register_buffer("rel_table", torch.from_numpy(V.harmonic_relation_table()), persistent=False)
        self.apply(_init)

    def empty_cache(self, batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c = self.cfg
        shape = (c.n_layer, batch, c.n_head, 0, c.d_model // c.n_head)
        return torch.zeros(shape), torch.zeros(shape), torch.zeros(batch, 0, dtype=torch.long)

    def forward(self, tokens, harm, past_k=None, past_v=None, past_harm=None):
        """tokens, harm (B, T) -> logits (B, T, V), present_k/v (L, B, H, P+T, hd), present_harm (B, P+T)."""
        B, T = tokens.shape
        if past_k is None:
            past_k, past_v, past_harm = self.empty_cache(B)
        P = past_k.shape[3]
        hd = self.cfg.d_model // self.cfg.n_head
        pos_k = positions(0, P + T, tokens.device)
        cos_k, sin_k = rope_cos_sin(pos_k, hd, self.cfg.rope_base)
        cos_q, sin_q = cos_k[P:], sin_k[P:]
        mask = pos_k[None, :] <= pos_k[P:][:, None]  # (T, P+T) causal
        all_harm = torch.cat([past_harm, harm], dim=1)
        rel = relation_ids(self.rel_table, harm, all_harm) if self.cfg.use_hrpe else None
        x = self.drop(self.tok(tokens))
        ks, vs = [], []
        for i, block in enumerate(self.blocks):
            x, k, v = block(x, cos_q, sin_q, cos_k, sin_k, mask, rel, past_k[i], past_v[i])
            ks.append(k)
            vs.append(v)
        logits = self.head(self.ln_f(x))
        return logits, torch.stack(ks), torch.stack(vs), all_harm

    def loss(self, tokens: torch.Tensor, harm: torch.Tensor) -> torch.Tensor:
        logits = self.forward(tokens[:, :-1], harm[:, :-1])[0]
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), tokens[:, 1:].reshape(-1), ignore_index=V.PAD)


def _init(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Embedding) and m.weight.shape[1] > 16:
        nn.init.normal_(m.weight, std=0.02)
