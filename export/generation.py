"""Export the generation models to ONNX with explicit caches, and check logit parity against torch.

backbone.onnx  inputs  tokens (B,T) int64, harm (B,T) int64, past_k/past_v (L,B,H,P,hd) f32, past_harm (B,P) int64
               outputs logits (B,T,V), present_k/present_v (L,B,H,P+T,hd), present_harm (B,P+T)
melody.onnx    inputs  tokens (B,T) int64, mems (L,B,M,C) f32, mem_mask (B,M) bool
               outputs logits (B,T,V), new_mems (L,B,M',C), new_mem_mask (B,M')   with M' = min(M+T, mem_len)
Each .onnx has its frozen config beside it (backbone.json / melody.json); the runtime refuses a model without.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from models.generation.backbone import Backbone
from models.generation.melody import MelodyXL

log = logging.getLogger(__name__)
OPSET = 17
PARITY_TOL = 1e-3


class BackboneStep(nn.Module):
    def __init__(self, model: Backbone):
        super().__init__()
        self.model = model

    def forward(self, tokens, harm, past_k, past_v, past_harm):
        return self.model(tokens, harm, past_k, past_v, past_harm)


class MelodyStep(nn.Module):
    def __init__(self, model: MelodyXL):
        super().__init__()
        self.model = model

    def forward(self, tokens, mems, mem_mask):
        logits, hidden = self.model(tokens, mems, mem_mask)
        valid = tokens != 0
        n = self.model.cfg.mem_len
        # Bounded memory inside the graph: the runtime feeds the outputs straight back.
        new_mems = torch.cat([mems, hidden], dim=2)[:, :, -n:]
        new_mask = torch.cat([mem_mask, valid], dim=1)[:, -n:]
        return logits, new_mems, new_mask


def _backbone_inputs(model: Backbone, batch: int, past: int, steps: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    c = model.cfg
    hd = c.d_model // c.n_head
    return (torch.randint(7, c.vocab_size, (batch, steps), generator=g),
            torch.randint(0, c.n_harm, (batch, steps), generator=g),
            torch.randn(c.n_layer, batch, c.n_head, past, hd, generator=g),
            torch.randn(c.n_layer, batch, c.n_head, past, hd, generator=g),
            torch.randint(0, c.n_harm, (batch, past), generator=g))


def _melody_inputs(model: MelodyXL, batch: int, mem: int, steps: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    c = model.cfg
    mask = torch.ones(batch, mem, dtype=torch.bool)
    if mem > 1:
        mask[:, : mem // 3] = False
    return (torch.randint(7, c.vocab_size, (batch, steps), generator=g),
            torch.randn(c.n_layer, batch, mem, c.d_model, generator=g), mask)


BACKBONE_IO = (["tokens", "harm", "past_k", "past_v", "past_harm"],
               ["logits", "present_k", "present_v", "present_harm"])
MELODY_IO = (["tokens", "mems", "mem_mask"], ["logits", "new_mems", "new_mem_mask"])


def export_backbone(model: Backbone, out: Path) -> Path:
    model = model.eval()
    path = Path(out) / "backbone.onnx"
    dyn = {"tokens": {0: "batch", 1: "steps"}, "harm": {0: "batch", 1: "steps"},
           "past_k": {1: "batch", 3: "past"}, "past_v": {1: "batch", 3: "past"}, "past_harm": {0: "batch", 1: "past"},
           "logits": {0: "batch", 1: "steps"}, "present_k": {1: "batch", 3: "total"},
           "present_v": {1: "batch", 3: "total"}, "present_harm": {0: "batch", 1: "total"}}
    with torch.no_grad():
        torch.onnx.export(BackboneStep(model).eval(), _backbone_inputs(model, 1, 3, 2), str(path),
                          input_names=BACKBONE_IO[0], output_names=BACKBONE_IO[1], dynamic_axes=dyn,
                          opset_version=OPSET, dynamo=False)
    (Path(out) / "backbone.json").write_text(json.dumps(asdict(model.cfg), indent=2))
    return path


def export_melody(model: MelodyXL, out: Path) -> Path:
    model = model.eval()
    path = Path(out) / "melody.onnx"
    dyn = {"tokens": {0: "batch", 1: "steps"}, "mems": {1: "batch", 2: "mem"}, "mem_mask": {0: "batch", 1: "mem"},
           "logits": {0: "batch", 1: "steps"}, "new_mems": {1: "batch", 2: "new_mem"},
           "new_mem_mask": {0: "batch", 1: "new_mem"}}
    with torch.no_grad():
        torch.onnx.export(MelodyStep(model).eval(), _melody_inputs(model, 1, 5, 2), str(path),
                          input_names=MELODY_IO[0], output_names=MELODY_IO[1], dynamic_axes=dyn,
                          opset_version=OPSET, dynamo=False)
    (Path(out) / "melody.json").write_text(json.dumps(asdict(model.cfg), indent=2))
    return path


def check_parity(kind: str, model, onnx_path: Path) -> dict:
    """Max |logit difference| torch vs onnxruntime over several cache sizes, including an empty cache."""
    import onnxruntime as ort

    model = model.eval()  # export restores the wrapper's mode; never compare against dropout
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    worst = 0.0
    cases = [(1, 0, 4), (2, 7, 1), (1, 40, 3), (1, 130, 1)]
    for i, (b, past, steps) in enumerate(cases):
        if kind == "backbone":
            inputs = _backbone_inputs(model, b, past, steps, seed=i + 1)
            names = BACKBONE_IO[0]
        else:
            inputs = _melody_inputs(model, b, past, steps, seed=i + 1)
            names = MELODY_IO[0]
        with torch.no_grad():
            ref = model(*inputs)[0].numpy()
        got = sess.run(["logits"], {n: t.numpy() for n, t in zip(names, inputs)})[0]
        worst = max(worst, float(np.abs(ref - got).max()))
    return {"model": kind, "max_abs_logit_diff": worst, "tolerance": PARITY_TOL, "ok": worst <= PARITY_TOL}


def export_all(backbone_ckpt: Path | None, melody_ckpt: Path | None, out: Path) -> list[dict]:
    from models.generation.train import load_checkpoint

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    reports = []
    for ckpt, kind in ((backbone_ckpt, "backbone"), (melody_ckpt, "melody")):
        if ckpt is None:
            continue
        model, k = load_checkpoint(Path(ckpt))
        if k != kind:
            raise ValueError(f"{ckpt} holds a {k} model, expected {kind}")
        path = export_backbone(model, out) if kind == "backbone" else export_melody(model, out)
        rep = check_parity(kind, model, path)
        rep["onnx"] = str(path)
        rep["bytes"] = path.stat().st_size
        log.info("%s", rep)
        reports.append(rep)
    return reports
