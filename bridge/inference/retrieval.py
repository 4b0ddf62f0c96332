"""The text<->MIDI retrieval encoders at runtime: two ONNX graphs, onnxruntime only, no torch.

An exported model directory holds, for each tower, an `.onnx` file and a JSON config naming it:

    text_encoder.json  -> text_encoder[.int8].onnx  + tokenizer.json (MiniLM word pieces)
    midi_encoder.json  -> midi_encoder[.int8].onnx  + midi_tokenizer.json (miditok REMI, bridge.tokens)

Both towers output L2-normalised vectors in one space; cosine similarity is their dot product.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bridge import paths
from bridge.inference.session import make_session
from bridge.music import Piece
from bridge.tokens import MidiWindow, load_tokenizer, pad_batch

log = logging.getLogger(__name__)


TEXT_CONFIG = "text_encoder.json"
MIDI_CONFIG = "midi_encoder.json"
MAX_TEXT_TOKENS = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2


def default_model_dir() -> Path:
    return paths.models_dir() / "retrieval"


@dataclass(frozen=True)
class TowerConfig:
    """What the runtime needs to run one exported tower; written by `export retrieval`."""

    file: str  # the .onnx file beside this config
    tokenizer: str  # tokenizer file beside it
    dim: int
    precision: str  # "fp32" | "fp16" (fp16-stored weights, fp32 compute) | "int8"
    max_len: int  # tokens per input (text: word pieces; MIDI: REMI ids)
    name: str = "retrieval"
    header: bool = False  # MIDI: windows start with the clip header (bridge.tokens.MidiWindow)

    @staticmethod
    def load(path: Path) -> TowerConfig:
        if not path.is_file():
            raise FileNotFoundError(f"missing {path.name} in {path.parent}: not an exported retrieval model")
        return TowerConfig(**json.loads(path.read_text()))


def load_text_tokenizer(path: str | os.PathLike, max_tokens: int = MAX_TEXT_TOKENS):
    """tokenizer.json pads and truncates at 128; sentence-transformers truncates at 256 and pads per batch."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    tok.no_padding()
    tok.enable_truncation(max_tokens)
    return tok


def tokenize_texts(tokenizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, attention_mask) int64 (B, L), right-padded with 0 to the longest text of the batch."""
    encs = tokenizer.encode_batch(list(texts))
    length = max([len(e.ids) for e in encs] + [1])
    ids = np.zeros((len(encs), length), dtype=np.int64)
    mask = np.zeros((len(encs), length), dtype=np.int64)
    for i, e in enumerate(encs):
        ids[i, : len(e.ids)] = e.ids
        mask[i, : len(e.ids)] = 1
    return ids, mask


class RetrievalEncoders:
    """encode_text / encode_pieces / encode_token_ids -> (n, dim) float32 L2-normalised (CONTRACTS.md)."""

    def __init__(self, model_dir: Path, text_cfg: TowerConfig, midi_cfg: TowerConfig, text_session, midi_session):
        self.model_dir = model_dir
        self.text_cfg = text_cfg
        self.midi_cfg = midi_cfg
        self._text = text_session
        self._midi = midi_session
        self._text_tok = load_text_tokenizer(model_dir / text_cfg.tokenizer, text_cfg.max_len)
        self._midi_tok = load_tokenizer(model_dir / midi_cfg.tokenizer)
        self.midi_window = MidiWindow(self._midi_tok, midi_cfg.max_len, midi_cfg.header)
        self.dim = text_cfg.dim
        self.name = text_cfg.name

    @staticmethod
    def load(
        model_dir: str | os.PathLike | None = None, providers: list[str] | None = None, threads: int = 0
    ) -> RetrievalEncoders:
        model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
        text_cfg = TowerConfig.load(model_dir / TEXT_CONFIG)
        midi_cfg = TowerConfig.load(model_dir / MIDI_CONFIG)
        if text_cfg.dim != midi_cfg.dim:
            raise ValueError(f"text dim {text_cfg.dim} != MIDI dim {midi_cfg.dim} in {model_dir}")
        return RetrievalEncoders(
            model_dir,
            text_cfg,
            midi_cfg,
            make_session(model_dir / text_cfg.file, providers, threads),
            make_session(model_dir / midi_cfg.file, providers, threads),
        )

    @property
    def vector_files(self) -> list[Path]:
        """The files a stored (MIDI) vector depends on: the library's model key is their fingerprint, so a new
        text tower over the same MIDI tower keeps every indexed vector (bridge.library.types.model_key)."""
        return [self.model_dir / name for name in (MIDI_CONFIG, self.midi_cfg.file, self.midi_cfg.tokenizer)]

    @property
    def providers(self) -> list[str]:
        return list(self._text.get_providers())

    @property
    def midi_tokenizer(self):
        return self._midi_tok

    def encode_text(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths batch with little padding
        for lo in range(0, len(texts), batch_size):
            idx = order[lo : lo + batch_size]
            ids, mask = tokenize_texts(self._text_tok, [texts[i] for i in idx])
            out[idx] = self._text.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return out

    def tokenize_pieces(self, pieces: list[Piece]) -> list[np.ndarray]:
        """What the MIDI tower reads of each piece: its start, headed when the model was trained so."""
        return [self.midi_window.of_piece(p) for p in pieces]

    def encode_pieces(self, pieces: list[Piece], batch_size: int = 32) -> np.ndarray:
        return self.encode_token_ids(self.tokenize_pieces(pieces), batch_size)

    def encode_token_ids(self, seqs: list[np.ndarray], batch_size: int = 32) -> np.ndarray:
        out = np.zeros((len(seqs), self.dim), dtype=np.float32)
        seqs = [np.asarray(s)[: self.midi_cfg.max_len] for s in seqs]
        # Length-sorted batches waste little compute on padding.
        order = np.argsort([len(s) for s in seqs], kind="stable")
        for lo in range(0, len(seqs), batch_size):
            idx = order[lo : lo + batch_size]
            ids = pad_batch([seqs[i] for i in idx], self.midi_cfg.max_len)
            out[idx] = self._midi.run(None, {"ids": ids})[0]
        return out
