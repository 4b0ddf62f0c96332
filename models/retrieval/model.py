"""The text<->MIDI dual encoder: one readable file, nanoGPT style.

    MIDI ids (B, T) -> token + learned position embedding -> 4 pre-norm Transformer blocks (d=384, 6 heads,
    FFN 1024) -> mean over non-pad tokens (or attention pooling) -> MIDI projection -> L2 norm -> (B, 384)
    caption -> frozen all-MiniLM-L6-v2 (mean pooling, L2 norm, cached once per caption) -> trainable text
    projection -> L2 norm -> (B, 384)

Similarity is the cosine (dot product of the normalised vectors). The frozen text tower lives in
`text.py`; this module holds only what training updates, so a training step never touches MiniLM.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIG_FILE = "retrieval_config.json"


@dataclass(frozen=True)
class RetrievalConfig:
    vocab_size: int = 516  # REMI vocabulary (bridge.tokens); checked against the tokenizer at train time
    max_len: int = 256  # MIDI tokens per clip: ~8 bars of REMI; longer clips are cropped
    header: bool = False  # windows start with the clip header (bridge.tokens.MidiWindow); vocab has the key ids
    d_model: int = 384
    n_layers: int = 4
    n_heads: int = 6
    d_ff: int = 1024
    dropout: float = 0.1
    pooling: str = "mean"  # "mean" over non-pad tokens | "attention" (one learned query)
    text_dim: int = 384  # all-MiniLM-L6-v2 sentence vector
    embed_dim: int = 384  # the shared space
    loss: str = "margin"  # "margin" (ranking, hardest in-batch negative) | "infonce" (symmetric, learned temp)
    margin: float = 0.3
    init_temperature: float = 0.07
    text_model: str = "all-MiniLM-L6-v2"

    def __post_init__(self):
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} must be divisible by n_heads {self.n_heads}")
        if self.pooling not in ("mean", "attention"):
            raise ValueError(f"pooling must be 'mean' or 'attention', not {self.pooling!r}")
        if self.loss not in ("margin", "infonce"):
            raise ValueError(f"loss must be 'margin' or 'infonce', not {self.loss!r}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @staticmethod
    def from_dict(d: dict) -> RetrievalConfig:
        known = {f.name for f in fields(RetrievalConfig)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown RetrievalConfig fields: {sorted(unknown)}")
        return RetrievalConfig(**d)

    def save(self, directory: str | os.PathLike) -> Path:
        path = Path(directory) / CONFIG_FILE
        path.write_text(self.to_json())
        return path

    @staticmethod
    def load(directory: str | os.PathLike) -> RetrievalConfig:
        path = Path(directory) / CONFIG_FILE
        if not path.is_file():
            raise FileNotFoundError(f"no {CONFIG_FILE} in {directory}: a model without its config cannot be loaded")
        return RetrievalConfig.from_dict(json.loads(path.read_text()))


class SelfAttention(nn.Module):
    def __init__(self, cfg: RetrievalConfig):
        super().__init__()
        self.n_heads = cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.out = nn.Linear(cfg.d_model, cfg.d_model)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        # x (B, T, d); keep (B, 1, 1, T) bool, True where a key may be attended to
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)
        q, k, v = (z.view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2) for z in (q, k, v))  # (B, h, T, hd)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(b, t, d))


class FeedForward(nn.Module):
    def __init__(self, cfg: RetrievalConfig):
        super().__init__()
        self.up = nn.Linear(cfg.d_model, cfg.d_ff)
        self.down = nn.Linear(cfg.d_ff, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.down(F.gelu(self.up(x))))


class Block(nn.Module):
    """Pre-norm Transformer encoder block: trains stably without warmup tricks at this depth."""

    def __init__(self, cfg: RetrievalConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = SelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.ff = FeedForward(cfg)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x), keep))
        return x + self.ff(self.ln2(x))


class AttentionPool(nn.Module):
    """One learned query attends over the tokens: lets the model weight bars/notes unevenly."""

    def __init__(self, cfg: RetrievalConfig):
        super().__init__()
        self.query = nn.Parameter(torch.zeros(cfg.d_model))
        self.key = nn.Linear(cfg.d_model, cfg.d_model)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # h (B, T, d), mask (B, T) float 1 for real tokens
        scores = self.key(h) @ self.query / math.sqrt(h.shape[-1])  # (B, T)
        scores = scores.masked_fill(mask == 0, -1e4)
        return (scores.softmax(dim=1).unsqueeze(-1) * h).sum(dim=1)


def mean_pool(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    # h (B, T, d), mask (B, T) float -> (B, d); an all-pad row pools to zeros instead of NaN
    return (h * mask.unsqueeze(-1)).sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp(min=1.0)


class MidiEncoder(nn.Module):
    """REMI ids -> one L2-normalised vector per clip."""

    def __init__(self, cfg: RetrievalConfig):
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model, padding_idx=0)
        self.pos = nn.Embedding(cfg.max_len, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layers)])
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.pool = AttentionPool(cfg) if cfg.pooling == "attention" else None
        self.proj = nn.Linear(cfg.d_model, cfg.embed_dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        # ids (B, T) int64, 0 = pad, T <= max_len
        t = ids.shape[1]
        mask = (ids != 0).float()  # (B, T)
        keep = ids != 0
        # An all-pad row would attend to nothing (NaN softmax): let every row see its first position.
        keep = torch.cat([torch.ones_like(keep[:, :1]), keep[:, 1:]], dim=1)[:, None, None, :]  # (B, 1, 1, T)
        pos = torch.arange(t, device=ids.device)
        x = self.drop(self.tok(ids) + self.pos(pos)[None])
        for block in self.blocks:
            x = block(x, keep)
        h = self.ln_f(x)
        pooled = self.pool(h, mask) if self.pool is not None else mean_pool(h, mask)
        return F.normalize(self.proj(pooled), dim=-1)


class RetrievalModel(nn.Module):
    """The trainable part: the MIDI tower, the text projection and (InfoNCE only) the temperature."""

    def __init__(self, cfg: RetrievalConfig):
        super().__init__()
        self.cfg = cfg
        self.midi = MidiEncoder(cfg)
        self.text_proj = nn.Linear(cfg.text_dim, cfg.embed_dim)
        if cfg.text_dim == cfg.embed_dim:
            # Start from MiniLM's own space: paraphrases the projection never saw stay close from step 0.
            with torch.no_grad():
                self.text_proj.weight.copy_(torch.eye(cfg.embed_dim))
                self.text_proj.bias.zero_()
        self.log_inv_temp = nn.Parameter(torch.tensor(math.log(1.0 / cfg.init_temperature)))
        self._init_weights()

    def _init_weights(self):
        for name, p in self.midi.named_parameters():
            if p.dim() == 2 and "tok" not in name and "pos" not in name:
                nn.init.normal_(p, std=0.02)
        nn.init.normal_(self.midi.tok.weight, std=0.02)
        nn.init.normal_(self.midi.pos.weight, std=0.01)
        with torch.no_grad():
            self.midi.tok.weight[0].zero_()

    def encode_midi(self, ids: torch.Tensor) -> torch.Tensor:
        return self.midi(ids)

    def encode_text(self, sentence_vectors: torch.Tensor) -> torch.Tensor:
        # sentence_vectors (B, text_dim): the frozen tower's normalised mean-pooled output
        return F.normalize(self.text_proj(sentence_vectors), dim=-1)

    def forward(self, ids: torch.Tensor, sentence_vectors: torch.Tensor):
        """One training step's embeddings: (text (B, D), MIDI (B, D), log 1/temperature)."""
        return self.encode_text(sentence_vectors), self.encode_midi(ids), self.log_inv_temp

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def load_model(directory: str | os.PathLike, map_location: str = "cpu") -> tuple[RetrievalModel, dict]:
    """A trained model from a checkpoint directory (`retrieval_config.json` + `model.pt`)."""
    directory = Path(directory)
    cfg = RetrievalConfig.load(directory)
    ckpt = torch.load(directory / "model.pt", map_location=map_location, weights_only=False)
    model = RetrievalModel(cfg)
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, ckpt
