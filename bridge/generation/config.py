"""The generation models' configs, torch-free: what training builds a model from, what `export generation`
freezes beside each `.onnx` (backbone.json, melody.json) and what the runtime reads to shape its caches.

One definition for all three sides (as `bridge.inference.TowerConfig` is for retrieval): `models.generation`
and `export.generation` import these classes, the runtime loads them with `load_config`, which refuses a file
written for another token vocabulary (its `vocab_size`), a missing file or unknown fields, in one line each.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from bridge.generation import vocab as V


class ModelConfigError(ValueError):
    """A config beside a generation model is missing, unreadable or for another vocabulary; one line."""


@dataclass(frozen=True)
class _ModelConfig:
    """What both models share: the vocabulary and the Transformer's size; head size, JSON out, `load_config` in.
    (Its fields come first in each config, as they did in every config file written.)"""

    vocab_size: int = V.VOCAB_SIZE
    n_layer: int = 3
    n_head: int = 4
    d_model: int = 192
    d_ff: int = 768
    dropout: float = 0.1

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path):
        return load_config(cls, path)


@dataclass(frozen=True)
class BackboneConfig(_ModelConfig):
    use_hrpe: bool = True  # False = RoPE only (the ablation)
    n_harm: int = V.N_HARM
    n_relations: int = V.N_RELATIONS
    rope_base: float = 10000.0


@dataclass(frozen=True)
class MelodyConfig(_ModelConfig):
    seg_len: int = 64  # training segment length (tokens)
    mem_len: int = 128  # memory length (tokens of earlier segments), about 4-6 bars
    rope_base: float = 10000.0


def config_from_dict(cls, data: dict, where: str = "config"):
    """`cls(**data)` with the vocabulary checked and unknown fields named."""
    known = {f.name for f in fields(cls)}
    extra = sorted(set(data) - known)
    if extra:
        raise ModelConfigError(f"{where}: unknown field(s) {', '.join(extra)} for a {cls.__name__}")
    # A model trained on another token vocabulary would read every id wrongly: refuse it by name.
    if int(data.get("vocab_size", -1)) != V.VOCAB_SIZE:
        raise ModelConfigError(f"{where} was trained on {data.get('vocab_size')} tokens but this midibridge speaks "
                               f"{V.VOCAB_SIZE} (bridge/generation/vocab.py): export it again from a matching "
                               "checkpoint")
    return cls(**data)


def load_config(cls, path: Path):
    path = Path(path)
    if not path.is_file():
        raise ModelConfigError(f"{path.name} is missing in {path.parent}; refusing to load the model beside it")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ModelConfigError(f"{path.name}: not a readable config ({e})") from e
    return config_from_dict(cls, data, path.name)
