"""Rebuild a torch `RetrievalModel` from an exported model directory (the shipped ONNX towers).

The repository ships ONNX files, not checkpoints, so a fine-tune (`train retrieval --init-from-onnx DIR`) or a
torch baseline starts from the shipped weights this way. Quantized initializers are dequantized (int8 per
output channel, uint8 per tensor for the embeddings) and fp16-stored ones widened, so the rebuilt tower is the
shipped one to within its quantization error (`parity` measures it: min cosine to the ONNX vectors).
The learned temperature is not exported; it restarts at the config's initial value.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch

from models.retrieval.model import RetrievalConfig, RetrievalModel

log = logging.getLogger(__name__)

_LINEARS_PER_BLOCK = ("attn.qkv", "attn.out", "ff.up", "ff.down")


def _initializers(path: Path) -> tuple[dict[str, np.ndarray], list]:
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    return {t.name: numpy_helper.to_array(t) for t in graph.initializer}, list(graph.node)


def _dequantized(init: dict[str, np.ndarray], base: str) -> np.ndarray:
    """The float weight behind `base` whether stored plain, fp16 (`__fp16`) or quantized (`_quantized`)."""
    if base in init:
        return init[base].astype(np.float32)
    if base + "__fp16" in init:
        return init[base + "__fp16"].astype(np.float32)
    q = init[base + "_quantized"].astype(np.float32)
    scale = init[base + "_scale"].astype(np.float32)
    zero = init[base + "_zero_point"].astype(np.float32)
    return (q - zero) * scale


def _strip(name: str) -> str:
    for suffix in ("_quantized", "__fp16"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def midi_state(onnx_path: Path, cfg: RetrievalConfig) -> dict[str, torch.Tensor]:
    """`model.midi.*` state dict entries from an exported MIDI tower."""
    init, nodes = _initializers(onnx_path)
    state: dict[str, np.ndarray] = {}
    for name in {_strip(n).removesuffix("_scale").removesuffix("_zero_point") for n in init}:
        if name.startswith("model.midi.") and not name.endswith("_Transposed"):  # those are MatMul weights
            state[name.removeprefix("model.")] = _dequantized(init, name)
    # Linear weights were exported transposed as anonymous MatMul initializers, in graph order.
    matmul_weights = [_strip(n.input[1]) for n in nodes if n.op_type in ("MatMul", "MatMulInteger")
                      and _strip(n.input[1]) in {_strip(k) for k in init}]
    names = [f"midi.blocks.{b}.{lin}.weight" for b in range(cfg.n_layers) for lin in _LINEARS_PER_BLOCK]
    names.append("midi.proj.weight")
    if len(matmul_weights) != len(names):
        raise ValueError(f"{onnx_path.name}: {len(matmul_weights)} weight matrices, expected {len(names)}")
    for name, base in zip(names, matmul_weights):
        state[name] = _dequantized(init, base).T
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}


def text_projection(onnx_path: Path) -> dict[str, torch.Tensor]:
    """`text_proj.*` from the exported text tower (the frozen MiniLM's trained projection)."""
    init, _ = _initializers(onnx_path)
    if any(name.startswith("text_proj.weight_Transposed") for name in init):  # int8: the Gemm became a MatMul
        weight = _dequantized(init, "text_proj.weight_Transposed").T  # (in, out) quantized per output column
    else:
        weight = _dequantized(init, "text_proj.weight")
    return {"text_proj.weight": torch.from_numpy(np.ascontiguousarray(weight)),
            "text_proj.bias": torch.from_numpy(_dequantized(init, "text_proj.bias"))}


def load_from_export(model_dir: str | Path) -> RetrievalModel:
    """A RetrievalModel holding the weights of an exported directory (retrieval_config.json + the two towers)."""
    model_dir = Path(model_dir)
    cfg = RetrievalConfig.load(model_dir)
    midi_file = json.loads((model_dir / "midi_encoder.json").read_text())["file"]
    text_file = json.loads((model_dir / "text_encoder.json").read_text())["file"]
    model = RetrievalModel(cfg)
    state = model.state_dict()
    loaded = {**midi_state(model_dir / midi_file, cfg), **text_projection(model_dir / text_file)}
    for name, value in loaded.items():
        if name not in state:
            raise ValueError(f"{name} from {model_dir} is not a RetrievalModel weight")
        if tuple(state[name].shape) != tuple(value.shape):
            raise ValueError(f"{name}: shape {tuple(value.shape)} in the export, "
                             f"{tuple(state[name].shape)} in the model")
    missing = sorted(set(state) - set(loaded) - {"log_inv_temp"})
    if missing:
        raise ValueError(f"{model_dir}: no weights for {', '.join(missing)}")
    model.load_state_dict({**state, **loaded})
    model.eval()
    log.info("rebuilt the torch model from %s (%s, %s)", model_dir, midi_file, text_file)
    return model


@torch.no_grad()
def parity(model: RetrievalModel, encoders, windows: list[np.ndarray]) -> float:
    """Min cosine between the rebuilt tower's vectors and the ONNX tower's on the same token windows."""
    from bridge.tokens import pad_batch

    ids = torch.from_numpy(pad_batch(windows, model.cfg.max_len))
    ours = model.encode_midi(ids).numpy()
    theirs = encoders.encode_token_ids(windows)
    return float(np.min(np.sum(ours * theirs, axis=1)))
