"""`midibridge eval generation`: held-out NLL, musical metrics beside human pieces, the H-RPE ablation."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from bridge.generation import metrics as M
from bridge.generation.encoding import Song
from bridge.generation.generate import generate_song
from bridge.generation.metrics import groove_similarity, summarize
from bridge.generation.prompt import Controls
from models.generation.data import songs_of
from models.generation.steppers import TorchModels
from models.generation.train import evaluate, load_checkpoint

log = logging.getLogger(__name__)
HARMONY_KEYS = ("chord_progression_entropy_bits", "in_key_chord_ratio", "chord_tone_ratio_strong_beats",
                "cadence_rate", "distinct_chords_per_16_bars", "tonic_bar_share")
# Per-song metrics (one definition each, in bridge.generation.metrics) whose human held-out range is reported.
PER_SONG = {
    "chord_tone_ratio_strong_beats": M.chord_tone_ratio_strong,
    "pitch_class_entropy_bits": M.pitch_class_entropy,
    "pitch_range_semitones": M.pitch_range,
    "chord_progression_entropy_bits": M.chord_progression_entropy,
    "distinct_chords_per_16_bars": M.distinct_chords_per_16_bars,
    "tonic_bar_share": M.tonic_bar_share,
    "cadence_rate": M.cadence_rate,
    "bar_self_similarity": M.bar_self_similarity,
    "repeated_bar_share": M.repeated_bar_share,
    "motif_reuse": M.motif_reuse,
    "longest_pitch_run": M.pitch_repeat_run,
}


def human_ranges(songs: list[Song]) -> dict:
    """Per-piece 10th-90th percentile of each metric over the human held-out pieces (the target range)."""
    out = {}
    for name, f in PER_SONG.items():
        xs = [v for v in (f(s) for s in songs) if v is not None]
        if xs:
            out[name] = [round(float(np.percentile(xs, 10)), 4), round(float(np.percentile(xs, 90)), 4)]
    return out


def heldout_songs(data_dir: Path) -> list[Song]:
    return songs_of(data_dir, "valid") + songs_of(data_dir, "test")


def heldout_nll(ckpt: Path, data_dir: Path, max_len: int | None = None) -> float:
    """Held-out NLL of a training checkpoint (.pt) or of an exported model (.onnx, e.g. the shipped one)."""
    if Path(ckpt).suffix == ".onnx":
        return onnx_nll(Path(ckpt), heldout_songs(data_dir), max_len)
    model, kind = load_checkpoint(ckpt)
    with torch.no_grad():
        return evaluate(kind, model, heldout_songs(data_dir), max_len or (256 if kind == "backbone" else 384))


def onnx_nll(onnx_path: Path, songs: list[Song], max_len: int | None = None) -> float:
    """The same figure as `train.evaluate` (same crops, targets and loss mask), computed with onnxruntime.

    The kind is read from the config beside it (backbone.json has use_hrpe); the melody runs segment by segment
    (seg_len from its config) with the graph's own bounded memory, as `MelodyXL.sequence_loss` does.
    """
    import json

    import onnxruntime as ort

    from bridge.generation import vocab as V
    from bridge.generation.encoding import backbone_tokens, melody_tokens

    cfg = json.loads(onnx_path.with_suffix(".json").read_text())
    kind = "backbone" if "use_hrpe" in cfg else "melody"
    max_len = max_len or (256 if kind == "backbone" else 384)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"])

    def nll_of(logits: np.ndarray, tgt: np.ndarray, weight: np.ndarray) -> tuple[float, float]:
        z = logits - logits.max(-1, keepdims=True)
        lp = z - np.log(np.exp(z).sum(-1, keepdims=True))
        picked = -np.take_along_axis(lp, tgt[:, None], axis=1)[:, 0]
        return float((picked * weight).sum()), float(weight.sum())

    total = count = 0.0
    L, H, C = cfg["n_layer"], cfg.get("n_head", 1), cfg["d_model"]
    for song in songs:
        if kind == "backbone":
            toks = np.asarray(backbone_tokens(song), np.int64)[:max_len]
            harm = np.asarray(V.harmonic_ids(toks), np.int64)
            empty = np.zeros((L, 1, H, 0, C // H), np.float32)
            logits = sess.run(["logits"], {"tokens": toks[None, :-1], "harm": harm[None, :-1], "past_k": empty,
                                           "past_v": empty, "past_harm": np.zeros((1, 0), np.int64)})[0][0]
            t, c = nll_of(logits, toks[1:], (toks[1:] != V.PAD).astype(np.float64))
        else:
            tk, mk = melody_tokens(song)
            toks = np.asarray(tk, np.int64)[:max_len]
            mask = np.asarray(mk, np.float64)[:max_len]
            mems = np.zeros((L, 1, 0, C), np.float32)
            mem_mask = np.zeros((1, 0), bool)
            t = c = 0.0
            seg = cfg["seg_len"]
            for s in range(0, len(toks) - 1, seg):
                tgt = toks[s + 1:s + seg + 1]
                inp = toks[s:s + seg][:len(tgt)]
                logits, mems, mem_mask = sess.run(None, {"tokens": inp[None], "mems": mems, "mem_mask": mem_mask})
                a, b = nll_of(logits[0], tgt, mask[s + 1:s + seg + 1])
                t, c = t + a, c + b
        total, count = total + t, count + c
    return total / max(count, 1.0)


def controls_like(songs: list[Song], n: int, bars: int, seed: int) -> list[Controls]:
    """Controls copied from human held-out songs (key, meter, tempo), so both sides ask for the same things."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(songs), size=min(n, len(songs)), replace=False)
    return [Controls(songs[i].tonic_pc, songs[i].mode, songs[i].meter, songs[i].tempo_bpm, bars, seed=seed + k)
            for k, i in enumerate(pick)]


def sample_metrics(models, human: list[Song], n: int, bars: int, seed: int = 0) -> dict:
    controls = controls_like(human, n, bars, seed)
    generated = [generate_song(models, c) for c in controls]
    cropped = [replace(h, bars=h.bars[:bars]) for h in human]
    gen = summarize(generated)
    hum = summarize(cropped)
    half = len(human) // 2
    gen["groove_similarity_to_human"] = groove_similarity(gen, hum)
    hum["groove_similarity_to_human"] = groove_similarity(summarize(human[:half]), summarize(human[half:]))
    ranges = human_ranges(cropped)
    inside = {k: ranges[k][0] <= gen[k] <= ranges[k][1] for k in ranges if gen.get(k) is not None}
    return {"generated": gen, "human_heldout": hum, "human_range_p10_p90": ranges, "generated_in_human_range": inside}


def ablation(runs_dir: Path, data_dir: Path, melody_ckpt: Path, n: int = 16, bars: int = 12) -> dict:
    """Every runs_dir/backbone_{hrpe,rope}_s<seed>/best.pt: held-out NLL and harmony metrics of sampled songs
    (shared melody model), then mean and std per variant and the per-seed paired difference."""
    human = heldout_songs(data_dir)
    melody, _ = load_checkpoint(melody_ckpt)
    rows = []
    for d in sorted(Path(runs_dir).glob("backbone_*_s*")):
        ck = d / "best.pt"
        if not ck.exists():
            continue
        variant, seed = d.name.split("_")[1], int(d.name.split("_s")[-1])
        backbone, _ = load_checkpoint(ck)
        nll = evaluate("backbone", backbone, human, 256)
        m = sample_metrics(TorchModels(backbone, melody), human, n, bars, seed=1000 + seed)["generated"]
        steps = torch.load(ck, weights_only=False)["step"]
        rows.append({"variant": variant, "seed": seed, "steps": steps, "heldout_nll": round(nll, 4),
                     **{k: m[k] for k in HARMONY_KEYS}})
        log.info("%s", rows[-1])
    summary = {}
    for variant in sorted({r["variant"] for r in rows}):
        vs = [r for r in rows if r["variant"] == variant]
        summary[variant] = {k: {"mean": round(float(np.mean([r[k] for r in vs])), 4),
                                "std": round(float(np.std([r[k] for r in vs])), 4)}
                            for k in ("heldout_nll",) + HARMONY_KEYS}
        summary[variant]["seeds"] = len(vs)
    paired = []
    for r in rows:
        if r["variant"] == "hrpe":
            o = [x for x in rows if x["variant"] == "rope" and x["seed"] == r["seed"]]
            if o:
                paired.append(r["heldout_nll"] - o[0]["heldout_nll"])
    return {"runs": rows, "summary": summary,
            "paired_nll_diff_hrpe_minus_rope": [round(x, 4) for x in paired],
            "mean_paired_diff": round(float(np.mean(paired)), 4) if paired else None}
