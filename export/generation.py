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
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from models.generation.backbone import Backbone
from models.generation.melody import MelodyXL
from models.generation.rope import apply_rotary, positions

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


def _rope_f64(pos: torch.Tensor, dim: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    """`rope_cos_sin` with the angles in float64: at absolute positions in the thousands a float32 angle is
    off by ~1e-4 rad, which a cache rotated once and kept would carry for ever."""
    inv = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float64, device=pos.device) / dim))
    f = pos.to(torch.float64)[:, None] * inv[None, :]
    f = torch.cat([f, f], dim=-1)
    return f.cos().to(torch.float32), f.sin().to(torch.float32)


class MelodyKVStep(nn.Module):
    """The melody model stepping with a key/value cache instead of its hidden-state memory: the same weights and
    the same function (a Transformer-XL memory of the last `mem_len` layer inputs gives the keys and values of
    the last `mem_len` tokens, each layer's keys and values being a fixed map of its normalised input), but a new
    token no longer recomputes keys and values for the whole memory.

    Keys are cached already rotated at their absolute stream position (`offset` = position of the first new
    token): RoPE scores depend only on the query-key distance, so this equals `MelodyXL.forward`, which rotates
    the memory at 0..M-1 on every call, and each step rotates only its own new keys."""

    def __init__(self, model: MelodyXL):
        super().__init__()
        self.model = model

    def forward(self, tokens, past_k, past_v, past_mask, offset):
        m = self.model
        c = m.cfg
        B, T = tokens.shape
        P = past_k.shape[3]
        H, hd, C = c.n_head, c.d_model // c.n_head, c.d_model
        cos_q, sin_q = _rope_f64(positions(offset[0], T, tokens.device), hd, c.rope_base)
        causal = torch.arange(P + T, device=tokens.device)[None, :] <= (torch.arange(T, device=tokens.device)
                                                                       + P)[:, None]
        valid = torch.cat([past_mask, tokens != 0], dim=1)
        mask = causal[None, None] & valid[:, None, None, :]
        x = m.tok(tokens)
        ks, vs = [], []
        for i, blk in enumerate(m.blocks):
            a = blk.attn
            h = blk.ln1(x)
            q = apply_rotary(a.q(h).view(B, T, H, hd).transpose(1, 2), cos_q, sin_q)
            k_new, v_new = a.kv(h).split(C, dim=2)
            k_new = apply_rotary(k_new.view(B, T, H, hd).transpose(1, 2), cos_q, sin_q)
            k = torch.cat([past_k[i], k_new], dim=2)
            v = torch.cat([past_v[i], v_new.view(B, T, H, hd).transpose(1, 2)], dim=2)
            ks.append(k[:, :, -c.mem_len:])
            vs.append(v[:, :, -c.mem_len:])
            att = F.softmax(((q @ k.transpose(-2, -1)) / math.sqrt(hd)).masked_fill(~mask, -1e9), dim=-1)
            x = x + a.proj((att @ v).transpose(1, 2).reshape(B, T, C))
            x = x + blk.mlp(blk.ln2(x))
        logits = m.head(m.ln_f(x))
        return logits, torch.stack(ks), torch.stack(vs), valid[:, -c.mem_len:]


MELODY_KV_IO = (["tokens", "past_k", "past_v", "past_mask", "offset"],
                ["logits", "present_k", "present_v", "present_mask"])


def export_melody_kv(model: MelodyXL, out: Path) -> Path:
    """melody_kv.onnx: the melody model with a key/value cache (`MelodyKVStep`), beside melody.onnx."""
    model = model.eval()
    path = Path(out) / "melody_kv.onnx"
    c = model.cfg
    g = torch.Generator().manual_seed(0)
    shape = (c.n_layer, 1, c.n_head, 5, c.d_model // c.n_head)
    inputs = (torch.randint(7, c.vocab_size, (1, 2), generator=g), torch.randn(*shape, generator=g),
              torch.randn(*shape, generator=g), torch.ones(1, 5, dtype=torch.bool), torch.tensor([9]))
    dyn = {"tokens": {0: "batch", 1: "steps"}, "past_k": {1: "batch", 3: "past"}, "past_v": {1: "batch", 3: "past"},
           "past_mask": {0: "batch", 1: "past"}, "logits": {0: "batch", 1: "steps"},
           "present_k": {1: "batch", 3: "total"}, "present_v": {1: "batch", 3: "total"},
           "present_mask": {0: "batch", 1: "total"}}
    with torch.no_grad():
        torch.onnx.export(MelodyKVStep(model).eval(), inputs, str(path), input_names=MELODY_KV_IO[0],
                          output_names=MELODY_KV_IO[1], dynamic_axes=dyn, opset_version=OPSET, dynamo=False)
    return path


def check_melody_kv_parity(model: MelodyXL, kv_path: Path, steps: int = 200, seed: int = 0,
                           tol: float = 1e-4) -> dict:
    """Step a token stream through torch `MelodyXL` (hidden-state memory, as training runs it) and through
    melody_kv.onnx (key/value cache): max |logit difference| over every step, past the memory length."""
    import onnxruntime as ort

    model = model.eval()
    c = model.cfg
    sess = ort.InferenceSession(str(kv_path), providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(seed)
    toks = torch.randint(7, c.vocab_size, (steps,), generator=g)
    mems, mem_mask = model.empty_memory(1)
    shape = (c.n_layer, 1, c.n_head, 0, c.d_model // c.n_head)
    pk, pv, pm = np.zeros(shape, np.float32), np.zeros(shape, np.float32), np.zeros((1, 0), bool)
    worst = 0.0
    i = 0
    
    while i < steps:
        n = 3 if i == 0 else 1 + (i % 2)  # a header of several tokens, then 1-2 tokens a step
        t = toks[None, i:i + n]
        with torch.no_grad():
            ref, hidden = model(t, mems, mem_mask)
        mems, mem_mask = model.update_memory(mems, mem_mask, hidden, t != 0, c.mem_len)
        got, pk, pv, pm = sess.run(None, {"tokens": t.numpy(), "past_k": pk, "past_v": pv, "past_mask": pm,
                                          "offset": np.array([i], np.int64)})
        worst = max(worst, float(np.abs(ref.numpy() - got).max()))
        i += n
    return {"model": "melody_kv", "steps": steps, "max_abs_logit_diff": worst, "tolerance": tol, "ok": worst <= tol}


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
    model.cfg.save(Path(out) / "backbone.json")  # bridge.generation.config.BackboneConfig, read by the runtime
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
    model.cfg.save(Path(out) / "melody.json")  # bridge.generation.config.MelodyConfig
    return path


def check_parity(kind: str, model, onnx_path: Path, tol: float = PARITY_TOL) -> dict:
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
    return {"model": kind, "max_abs_logit_diff": worst, "tolerance": tol, "ok": worst <= tol}


REBUILD_TOL = 1e-4  # a rebuilt model computes what the graph computes: only float rounding may differ


def torch_from_onnx(onnx_path: Path):
    """The torch model (Backbone or MelodyXL, eval mode) whose weights a shipped .onnx holds, from the graph's
    initializers (`export.onnx_weights`) and the config beside it: what `bench/generate.py` times as the
    torch eager baseline, so that it needs nothing outside the repository. Returns (model, kind)."""
    from bridge.generation.config import BackboneConfig, MelodyConfig, load_config
    from export.onnx_weights import onnx_state_dict

    onnx_path = Path(onnx_path)
    data = json.loads(onnx_path.with_suffix(".json").read_text()) if onnx_path.with_suffix(".json").is_file() else {}
    kind = "backbone" if "use_hrpe" in data else "melody"
    cfg = load_config(BackboneConfig if kind == "backbone" else MelodyConfig, onnx_path.with_suffix(".json"))
    model = Backbone(cfg) if kind == "backbone" else MelodyXL(cfg)
    weights = {k.removeprefix("model."): torch.from_numpy(np.array(v)) for k, v in onnx_state_dict(onnx_path).items()}
    weights.setdefault("head.weight", weights.get("tok.weight"))  # tied: the graph may keep only one of them
    expected = set(model.state_dict())
    missing, extra = sorted(expected - set(weights)), sorted(set(weights) - expected)
    if missing or extra:
        raise ValueError(f"{onnx_path.name} does not hold a {kind} of this config: missing {missing[:4]}, "
                         f"unexpected {extra[:4]}")
    model.load_state_dict({k: weights[k] for k in expected}, strict=True)
    if not torch.equal(model.head.weight, model.tok.weight):
        raise ValueError(f"{onnx_path.name}: head and embedding differ, but the model ties them")
    return model.eval(), kind


def rebuild_parity(onnx_path: Path) -> dict:
    """Rebuild the torch model from the graph and compare logits with onnxruntime (tolerance 1e-4)."""
    model, kind = torch_from_onnx(onnx_path)
    return check_parity(kind, model, Path(onnx_path), tol=REBUILD_TOL)


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
        if kind == "melody":
            reports.append(_kv_report(model, out))
    return reports


def _kv_report(model: MelodyXL, out: Path) -> dict:
    path = export_melody_kv(model, out)
    rep = check_melody_kv_parity(model, path, steps=300)
    long = check_melody_kv_parity(model, path, steps=2000, seed=1, tol=PARITY_TOL)
    rep.update(onnx=str(path), bytes=path.stat().st_size, long_stream=long, ok=rep["ok"] and long["ok"])
    log.info("%s", rep)
    return rep


def export_kv_from_onnx(model_dir: Path, out: Path | None = None) -> dict:
    """melody_kv.onnx for the melody.onnx of `model_dir` (weights read back from the graph, no checkpoint):
    how the shipped melody_kv.onnx was made."""
    model, _kind = torch_from_onnx(Path(model_dir) / "melody.onnx")
    out = Path(out or model_dir)
    out.mkdir(parents=True, exist_ok=True)
    return _kv_report(model, out)
