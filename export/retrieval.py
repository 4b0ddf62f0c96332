"""Export the retrieval towers to ONNX (fp32, fp16 weights, int8), with parity and precision checks that fail loudly.

    out/text_encoder.onnx        MiniLM + mean pooling + normalise + projection + normalise (fp32)
    out/text_encoder.fp16.onnx   the same with fp16-stored weights, fp32 compute (fp16_weights.py)
    out/text_encoder.int8.onnx   dynamic int8 (per channel, reduce_range)
    out/midi_encoder.onnx        REMI ids -> embedding (fp32), and midi_encoder.{fp16,int8}.onnx
    out/text_encoder.json, out/midi_encoder.json   the runtime configs: which file/precision each tower uses
    out/tokenizer.json (MiniLM word pieces), out/midi_tokenizer.json, out/retrieval_config.json
    out/export_report.json       parity cosines, valid R@10 per precision, the choice and why

fp32 must match torch (min cosine >= 0.999 over the held-out parity items) or export raises. Then the
smallest text/MIDI precision pair that keeps valid R@10 within 0.01 of all-fp32 and fits `max_mb` ships.
Size is also speed here: an int8 text tower encodes a query ~4x faster than fp32 (its weights fit the CPU's
cache), the largest part of a text search on a big library. Min cosine to fp32 is reported for every
precision but no longer decides (int8 MiniLM moves single vectors to ~0.92 while ranking as fp32 does:
MODEL_CARD.md "Precision"); ties in size go to the more faithful pair.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from bridge.inference.retrieval import MIDI_CONFIG, TEXT_CONFIG, TowerConfig, make_session, tokenize_texts
from bridge.music import load_midi
from bridge.paths import examples_dir
from bridge.tokens import TOKENIZER_FILE, key_class, tokenize_piece
from export.fp16_weights import store_weights_fp16
from export.retrieval_checks import parity_items, valid_items
from models.retrieval.metrics import target_ranks
from models.retrieval.model import CONFIG_FILE
from models.retrieval.text import MAX_TEXT_TOKENS, minilm_path
from models.retrieval.torch_encoders import TorchRetrievalEncoders

log = logging.getLogger(__name__)

OPSET = 17
PARITY_MIN_COSINE = 0.999
INT8_MAX_R10_DROP = 0.01
MAX_SHIPPED_MB = 60.0
PRECISIONS = ("fp32", "fp16", "int8")
SUFFIX = {"fp32": ".onnx", "fp16": ".fp16.onnx", "int8": ".int8.onnx"}


class MidiTowerOnnx(torch.nn.Module):
    """Fixed I/O names for the graph: ids (B, T) int64 -> embedding (B, D)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model.encode_midi(ids)


def export_midi_tower(enc: TorchRetrievalEncoders, path: Path) -> None:
    dummy = torch.randint(1, enc.cfg.vocab_size, (2, 24), dtype=torch.long)
    torch.onnx.export(
        MidiTowerOnnx(enc.model).eval(), (dummy,), str(path), dynamo=False, opset_version=OPSET,
        input_names=["ids"], output_names=["embedding"],
        dynamic_axes={"ids": {0: "batch", 1: "tokens"}, "embedding": {0: "batch"}},
    )


def export_text_tower(enc: TorchRetrievalEncoders, path: Path) -> None:
    ids, mask = tokenize_texts(enc._text_tok, ["a slow piano melody in A minor", "a jig"])
    torch.onnx.export(
        enc.text_tower.eval(), (torch.from_numpy(ids), torch.from_numpy(mask)), str(path), dynamo=False,
        opset_version=OPSET, input_names=["input_ids", "attention_mask"], output_names=["embedding"],
        dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                      "embedding": {0: "batch"}},
    )


def quantize_int8(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Plain quantize_dynamic hurts MiniLM badly (MODELS.md: min cosine 0.896); per-channel + reduce_range holds.
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)


class _OnnxTowers:
    """Just enough of RetrievalEncoders to score one (text file, MIDI file) combination."""

    def __init__(self, out: Path, text_file: str, midi_file: str, enc: TorchRetrievalEncoders):
        self.text = make_session(out / text_file, ["CPUExecutionProvider"])
        self.midi = make_session(out / midi_file, ["CPUExecutionProvider"])
        self.tok = enc._text_tok
        self.max_len = enc.max_len

    def encode_text(self, texts: list[str], batch: int = 64) -> np.ndarray:
        parts = []
        for lo in range(0, len(texts), batch):
            ids, mask = tokenize_texts(self.tok, texts[lo : lo + batch])
            parts.append(self.text.run(None, {"input_ids": ids, "attention_mask": mask})[0])
        return np.concatenate(parts)

    def encode_token_ids(self, seqs: list[np.ndarray], batch: int = 32) -> np.ndarray:
        from bridge.tokens import pad_batch

        parts = []
        for lo in range(0, len(seqs), batch):
            parts.append(self.midi.run(None, {"ids": pad_batch(seqs[lo : lo + batch], self.max_len)})[0])
        return np.concatenate(parts)


def _min_cos(a: np.ndarray, b: np.ndarray) -> float:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)  # (n, D) rows compared pairwise
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float((a * b).sum(axis=1).min())


def export_retrieval(
    model_dir: str | Path,
    out_dir: str | Path,
    data_dir: str | Path | None = None,
    n_parity: int = 100,
    n_valid: int = 1000,
    int8: bool = True,
    prune: bool = False,
    max_mb: float = MAX_SHIPPED_MB,
) -> dict:
    """Export, check, choose precisions; returns the report (also written to out/export_report.json)."""
    model_dir, out = Path(model_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    enc = TorchRetrievalEncoders(model_dir)
    enc.model.eval()
    log.info("exporting towers to %s", out)
    export_midi_tower(enc, out / "midi_encoder.onnx")
    export_text_tower(enc, out / "text_encoder.onnx")
    shutil.copy2(minilm_path() / "tokenizer.json", out / "tokenizer.json")
    shutil.copy2(model_dir / TOKENIZER_FILE, out / TOKENIZER_FILE)
    shutil.copy2(model_dir / CONFIG_FILE, out / CONFIG_FILE)

    # fp32 parity: the ONNX graphs must compute what torch computes, on items the model never trained on.
    texts, seqs = parity_items(data_dir, enc.midi_window, n_parity) if data_dir else _fallback_items(
        enc
    )
    fp32 = _OnnxTowers(out, "text_encoder.onnx", "midi_encoder.onnx", enc)
    parity = {
        "items": {"texts": len(texts), "clips": len(seqs)},
        "text_min_cosine": _min_cos(enc.encode_text(texts), fp32.encode_text(texts)),
        "midi_min_cosine": _min_cos(enc.encode_token_ids(seqs), fp32.encode_token_ids(seqs)),
    }
    log.info("fp32 parity: %s", parity)
    if min(parity["text_min_cosine"], parity["midi_min_cosine"]) < PARITY_MIN_COSINE:
        raise RuntimeError(f"ONNX fp32 parity below {PARITY_MIN_COSINE}: {parity}")

    choice = {"text": "fp32", "midi": "fp32"}
    precision_report: dict = {"int8": "not tried", "fp16": "not tried"}
    if int8:
        for tower in ("text", "midi"):
            quantize_int8(out / f"{tower}_encoder.onnx", out / f"{tower}_encoder.int8.onnx")
            store_weights_fp16(out / f"{tower}_encoder.onnx", out / f"{tower}_encoder.fp16.onnx")
        if data_dir is None:
            precision_report = {"int8": "no --data: valid R@10 cannot be checked, so fp32 is used"}
        else:
            items = valid_items(data_dir, enc.midi_window, n_valid)
            choice, precision_report = choose_precision(out, enc, *items, max_mb=max_mb)
    files = {tower: f"{tower}_encoder{SUFFIX[choice[tower]]}" for tower in ("text", "midi")}
    run = model_dir.resolve()
    name = f"retrieval-{run.parent.name if run.name == 'best' else run.name}-step{enc.checkpoint.get('step', 0)}"
    text_cfg = TowerConfig(files["text"], "tokenizer.json", enc.dim, choice["text"], MAX_TEXT_TOKENS, name)
    midi_cfg = TowerConfig(files["midi"], TOKENIZER_FILE, enc.dim, choice["midi"], enc.max_len, name,
                           header=enc.cfg.header)
    (out / TEXT_CONFIG).write_text(json.dumps(asdict(text_cfg), indent=2))
    (out / MIDI_CONFIG).write_text(json.dumps(asdict(midi_cfg), indent=2))
    if prune:
        for f in out.glob("*.onnx"):
            if f.name not in files.values():
                f.unlink()
    sizes = {f.name: round(f.stat().st_size / 1e6, 2) for f in sorted(out.glob("*.onnx"))}
    report = {
        "model_dir": str(model_dir),
        "git_commit": enc.checkpoint.get("git_commit", "unknown"),
        "step": enc.checkpoint.get("step"),
        "parity_fp32": parity,
        "precision": precision_report,
        "chosen": choice,
        "files": files,
        "sizes_mb": sizes,
        "shipped_mb": round(sum(sizes.get(f, 0) for f in files.values()), 2),
    }
    (out / "export_report.json").write_text(json.dumps(report, indent=2))
    return report


def choose_precision(
    out: Path, enc, texts: list[str], targets: np.ndarray, seqs: list[np.ndarray], max_mb: float = MAX_SHIPPED_MB
) -> tuple[dict, dict]:
    """Valid R@10 and min cosine to fp32 for every text/MIDI precision pair, and the pair to ship (module doc)."""
    vecs = {}
    for p in PRECISIONS:
        towers = _OnnxTowers(out, "text_encoder" + SUFFIX[p], "midi_encoder" + SUFFIX[p], enc)
        vecs["text", p], vecs["midi", p] = towers.encode_text(texts), towers.encode_token_ids(seqs)
    cos = {(t, p): _min_cos(vecs[t, "fp32"], vecs[t, p]) for t in ("text", "midi") for p in PRECISIONS}
    mb = {(t, p): (out / f"{t}_encoder{SUFFIX[p]}").stat().st_size / 1e6 for t in ("text", "midi") for p in PRECISIONS}
    pairs = [(tp, mp) for tp in PRECISIONS for mp in PRECISIONS]
    r10 = {(tp, mp): float(np.mean(target_ranks(vecs["text", tp] @ vecs["midi", mp].T, targets) <= 10))
           for tp, mp in pairs}
    base = r10["fp32", "fp32"]

    def size(pair):
        return mb["text", pair[0]] + mb["midi", pair[1]]

    def fidelity(pair):
        return min(cos["text", pair[0]], cos["midi", pair[1]])

    keeps_recall = [pq for pq in pairs if r10[pq] >= base - INT8_MAX_R10_DROP]
    fits = [pq for pq in keeps_recall if size(pq) <= max_mb]
    if fits:
        pick, why = min(fits, key=lambda pq: (size(pq), -fidelity(pq))), "smallest pair that keeps R@10"
    else:
        pick, why = min(keeps_recall, key=size), f"nothing fits {max_mb} MB: the smallest pair that keeps R@10"
        log.warning("retrieval towers exceed the %.0f MB budget: %.1f MB", max_mb, size(pick))
    choice = {"text": pick[0], "midi": pick[1]}
    report = {
        "valid_queries": len(texts), "valid_clips": len(seqs),
        "valid_R@10": {f"text_{tp}+midi_{mp}": v for (tp, mp), v in r10.items()},
        "min_cosine_to_fp32": {f"{t}_{p}": c for (t, p), c in cos.items() if p != "fp32"},
        "size_mb": {f"{t}_{p}": round(v, 2) for (t, p), v in mb.items()},
        "rule": f"R@10 >= fp32 - {INT8_MAX_R10_DROP}, both towers <= {max_mb} MB, then the smallest pair (ties: the "
                "higher min cosine to fp32)",
        "why": why,
    }
    log.info("precision: %s -> %s", report, choice)
    return choice, report


def _fallback_items(enc) -> tuple[list[str], list[np.ndarray]]:
    """Without a corpus: fixed sentences and windows of the bundled example chorale."""
    texts = [f"a {a} {i} piece in {k}" for a in ("slow", "fast", "gentle", "lively") for i in ("piano", "flute",
             "string quartet", "choir") for k in ("C major", "A minor", "D dorian")]
    piece = load_midi(examples_dir() / "chorale.mid")
    ids, key = tokenize_piece(piece, enc.midi_tokenizer), key_class(piece)
    seqs = [enc.midi_window.of_ids(ids[s:], key) for s in range(0, max(1, len(ids) - 32), 16)][:50]
    return texts, seqs
