"""ONNX incremental decoding of the backbone (KV cache + past harmonic ids) and the melody model (bounded
segment memory). Each stepper's `feed(tokens)` runs the new tokens against its cache and returns the logits
after the last one; `bridge.generation.generate` drives them with the numpy sampler.
"""

from __future__ import annotations

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


def _config(onnx_path: Path, cls):
    """The frozen config beside an .onnx (backbone.json / melody.json), vocabulary checked."""
    from bridge.generation.config import ModelConfigError, load_config

    try:
        return load_config(cls, onnx_path.with_suffix(".json"))
    except ModelConfigError as e:
        raise ModelNotFound(f"{onnx_path.name}: {e}") from e


def _empty_kv(cfg) -> tuple[np.ndarray, np.ndarray]:
    """An empty key/value cache (layers, batch 1, heads, 0 positions, head size) for a config's graph."""
    shape = (cfg.n_layer, 1, cfg.n_head, 0, cfg.head_dim)
    return np.zeros(shape, np.float32), np.zeros(shape, np.float32)


class OnnxBackboneStepper:
    """Backbone decoding with an explicit KV cache and the cached events' harmonic ids (for H-RPE)."""

    def __init__(self, session, config):
        self.sess, self.cfg = session, config  # bridge.generation.config.BackboneConfig
        self.reset()

    def reset(self) -> None:
        self.past_k, self.past_v = _empty_kv(self.cfg)
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

    def __init__(self, session, config):
        self.sess, self.cfg = session, config  # bridge.generation.config.MelodyConfig
        self.reset()

    def reset(self) -> None:
        c = self.cfg
        self.mems = np.zeros((c.n_layer, 1, 0, c.d_model), np.float32)
        self.mem_mask = np.zeros((1, 0), bool)
        self.length = 0

    @property
    def memory_tokens(self) -> int:
        """Tokens the memory holds now (never more than mem_len)."""
        return int(self.mem_mask.shape[1])

    def feed(self, tokens: list[int]) -> np.ndarray:
        logits, self.mems, self.mem_mask = self.sess.run(
            None, {"tokens": np.asarray([tokens], np.int64), "mems": self.mems, "mem_mask": self.mem_mask})
        self.length += len(tokens)
        return logits[0, -1]


class OnnxMelodyKVStepper:
    """The same melody model from melody_kv.onnx (`export.generation.MelodyKVStep`): a cache of the last
    `mem_len` tokens' keys and values instead of their hidden states, so a step does not recompute the memory's
    keys and values (logits equal melody.onnx's to ~1e-4). Keys are cached rotated at their stream position."""

    def __init__(self, session, config):
        self.sess, self.cfg = session, config  # bridge.generation.config.MelodyConfig
        self.reset()

    def reset(self) -> None:
        self.past_k, self.past_v = _empty_kv(self.cfg)
        self.past_mask = np.zeros((1, 0), bool)
        self.length = 0

    @property
    def memory_tokens(self) -> int:
        """Tokens the memory holds now (never more than mem_len)."""
        return int(self.past_mask.shape[1])

    def feed(self, tokens: list[int]) -> np.ndarray:
        logits, self.past_k, self.past_v, self.past_mask = self.sess.run(
            None, {"tokens": np.asarray([tokens], np.int64), "past_k": self.past_k, "past_v": self.past_v,
                   "past_mask": self.past_mask, "offset": np.asarray([self.length], np.int64)})
        self.length += len(tokens)
        return logits[0, -1]


@dataclass
class GenerationModels:
    backbone: OnnxBackboneStepper
    melody: OnnxMelodyStepper | OnnxMelodyKVStepper
    model_dir: Path

    @staticmethod
    def load(model_dir: str | Path | None = None, threads: int = 1, kv_melody: bool = True) -> GenerationModels:
        """The models of `model_dir`; the melody from melody_kv.onnx when it is there (and `kv_melody`), else
        from melody.onnx (both read melody.json)."""
        d = Path(model_dir) if model_dir else DEFAULT_MODEL_DIR
        paths = [d / "backbone.onnx", d / "melody.onnx"]
        missing = [p.name for p in paths if not p.exists()]
        if missing:
            raise ModelNotFound(f"no generation model in {d} (missing {', '.join(missing)}); "
                                "train and export one: midibridge export generation")
        from bridge.generation.config import BackboneConfig, MelodyConfig

        b = OnnxBackboneStepper(_session(paths[0], threads), _config(paths[0], BackboneConfig))
        cfg = _config(paths[1], MelodyConfig)
        kv = d / "melody_kv.onnx"
        if kv_melody and kv.exists():
            m = OnnxMelodyKVStepper(_session(kv, threads), cfg)
        else:
            m = OnnxMelodyStepper(_session(paths[1], threads), cfg)
        return GenerationModels(b, m, d)
