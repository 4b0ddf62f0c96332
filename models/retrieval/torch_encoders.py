"""The trained model as encoders with the runtime's interface (`bridge.inference.RetrievalEncoders`), in torch.

Used by `eval retrieval --backend torch`, by export parity checks and by the benchmark's eager column;
tokenisation is the runtime's own (tokenizers + bridge.tokens), so only the network differs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from bridge.inference.retrieval import tokenize_texts
from bridge.music import Piece
from bridge.tokens import MidiWindow, load_tokenizer, pad_batch
from models.retrieval.model import load_model
from models.retrieval.text import build_text_tower


class TorchRetrievalEncoders:
    def __init__(self, model_dir: str | os.PathLike, device: str = "cpu"):
        self.model_dir = Path(model_dir)
        self.model, self.checkpoint = load_model(model_dir)
        self.model.to(device)
        self.device = device
        self.cfg = self.model.cfg
        self.text_tower, self._text_tok = build_text_tower(self.model.text_proj)
        self.text_tower.to(device)
        self.midi_tokenizer = load_tokenizer(self.model_dir)
        self.dim = self.cfg.embed_dim
        self.name = self.model_dir.name
        self.max_len = self.cfg.max_len
        self.midi_window = MidiWindow(self.midi_tokenizer, self.max_len, self.cfg.header)

    @torch.no_grad()
    def encode_text(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")  # same batching as the ONNX runtime
        for lo in range(0, len(texts), batch_size):
            idx = order[lo : lo + batch_size]
            ids, mask = tokenize_texts(self._text_tok, [texts[i] for i in idx])
            vec = self.text_tower(torch.from_numpy(ids).to(self.device), torch.from_numpy(mask).to(self.device))
            out[idx] = vec.float().cpu().numpy()
        return out

    @torch.no_grad()
    def encode_token_ids(self, seqs: list[np.ndarray], batch_size: int = 32) -> np.ndarray:
        out = np.zeros((len(seqs), self.dim), dtype=np.float32)
        seqs = [np.asarray(s)[: self.max_len] for s in seqs]
        order = np.argsort([len(s) for s in seqs], kind="stable")
        for lo in range(0, len(seqs), batch_size):
            idx = order[lo : lo + batch_size]
            ids = torch.from_numpy(pad_batch([seqs[i] for i in idx], self.max_len)).to(self.device)
            out[idx] = self.model.encode_midi(ids).float().cpu().numpy()
        return out

    def encode_pieces(self, pieces: list[Piece], batch_size: int = 32) -> np.ndarray:
        return self.encode_token_ids([self.midi_window.of_piece(p) for p in pieces], batch_size)
