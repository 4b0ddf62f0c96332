"""ONNX incremental decoding of the backbone (KV cache + past harmonic ids) and the melody model (bounded
segment memory). Each stepper's `feed(tokens)` runs the new tokens against its cache and returns the logits
after the last one; `bridge.generation.generate` drives them with the numpy sampler.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bridge.generation import vocab as V

log = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "assets" / "models" / "generation"


class ModelNotFound(FileNotFoundError):
    pass


def _session(path: Path, threads: int = 1):
    from bridge.inference.session import make_session

    return make_session(path, threads=threads)


def _config(onnx_path: Path) -> dict:
    cfg = onnx_path.with_suffix(".json")
    if not cfg.exists():
        raise ModelNotFound(f"{onnx_path.name} has no config beside it ({cfg.name}); refusing to load")
    config = json.loads(cfg.read_text())
    # A model trained on another token vocabulary would read every id wrongly: refuse it by name.
    if int(config.get("vocab_size", -1)) != V.VOCAB_SIZE:
        raise ModelNotFound(f"{onnx_path.name} was trained on {config.get('vocab_size')} tokens but this midibridge "
                            f"speaks {V.VOCAB_SIZE} (bridge/generation/vocab.py): export it again from a matching "
                            "checkpoint")
    return config


class OnnxBackboneStepper:
    """Backbone decoding with an explicit KV cache and the cached events' harmonic ids (for H-RPE)."""

    def __init__(self, session, config: dict):
        self.sess, self.cfg = session, config
        self.reset()

    def reset(self) -> None:
        c = self.cfg
        shape = (c["n_layer"], 1, c["n_head"], 0, c["d_model"] // c["n_head"])
        self.past_k = np.zeros(shape, np.float32)
        self.past_v = np.zeros(shape, np.float32)
        self.past_harm = np.zeros((1, 0), np.int64)
        self.harm = 0  # chord in force: non-chord tokens carry it (vocab.harmonic_ids)
        self.length = 0

    def feed(self, tokens: list[int]) -> np.ndarray:
        harm = []
        for t in tokens:
            if V.is_chord(t):
                self.harm = V.harm_of_token(t)
            harm.append(self.harm)
        out = self.sess.run(None, {"tokens": np.asarray([tokens], np.int64), "harm": np.asarray([harm], np.int64),
                                   "past_k": self.past_k, "past_v": self.past_v, "past_harm": self.past_harm})
        logits, self.past_k, self.past_v, self.past_harm = out
        self.length += len(tokens)
        return logits[0, -1]


class OnnxMelodyStepper:
    """Melody decoding with a fixed-length segment memory (Transformer-XL): memory never grows past mem_len."""

    def __init__(self, session, config: dict):
        self.sess, self.cfg = session, config
        self.reset()

    def reset(self) -> None:
        c = self.cfg
        self.mems = np.zeros((c["n_layer"], 1, 0, c["d_model"]), np.float32)
        self.mem_mask = np.zeros((1, 0), bool)
        self.length = 0

    def feed(self, tokens: list[int]) -> np.ndarray:
        logits, self.mems, self.mem_mask = self.sess.run(
            None, {"tokens": np.asarray([tokens], np.int64), "mems": self.mems, "mem_mask": self.mem_mask})
        self.length += len(tokens)
        return logits[0, -1]


@dataclass
class GenerationModels:
    backbone: OnnxBackboneStepper
    melody: OnnxMelodyStepper
    model_dir: Path

    @staticmethod
    def load(model_dir: str | Path | None = None, threads: int = 1) -> GenerationModels:
        d = Path(model_dir) if model_dir else DEFAULT_MODEL_DIR
        paths = [d / "backbone.onnx", d / "melody.onnx"]
        missing = [p.name for p in paths if not p.exists()]
        if missing:
            raise ModelNotFound(f"no generation model in {d} (missing {', '.join(missing)}); "
                                "train and export one: midibridge export generation")
        b = OnnxBackboneStepper(_session(paths[0], threads), _config(paths[0]))
        m = OnnxMelodyStepper(_session(paths[1], threads), _config(paths[1]))
        return GenerationModels(b, m, d)
