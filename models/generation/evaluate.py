"""`midibridge eval generation`: held-out NLL, musical metrics beside human pieces, the H-RPE ablation."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from bridge.generation.encoding import Song
from bridge.generation.generate import generate_song
from bridge.generation.metrics import groove_similarity, summarize
from bridge.generation.prompt import Controls
from models.generation.data import songs_of
from models.generation.steppers import TorchModels
from models.generation.train import evaluate, load_checkpoint

log = logging.getLogger(__name__)
HARMONY_KEYS = ("chord_progression_entropy_bits", "in_key_chord_ratio", "chord_tone_ratio_strong_beats")


def heldout_songs(data_dir: Path) -> list[Song]:
    return songs_of(data_dir, "valid") + songs_of(data_dir, "test")


def heldout_nll(ckpt: Path, data_dir: Path, max_len: int | None = None) -> float:
    model, kind = load_checkpoint(ckpt)
    with torch.no_grad():
        return evaluate(kind, model, heldout_songs(data_dir), max_len or (256 if kind == "backbone" else 384))


def controls_like(songs: list[Song], n: int, bars: int, seed: int) -> list[Controls]:
    """Controls copied from human held-out songs (key, meter, tempo), so both sides ask for the same things."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(songs), size=min(n, len(songs)), replace=False)
    return [Controls(songs[i].tonic_pc, songs[i].mode, songs[i].meter, songs[i].tempo_bpm, bars, seed=seed + k)
            for k, i in enumerate(pick)]


def sample_metrics(models, human: list[Song], n: int, bars: int, seed: int = 0) -> dict:
    controls = controls_like(human, n, bars, seed)
    generated = [generate_song(models, c) for c in controls]
    gen = summarize(generated)
    hum = summarize([replace(h, bars=h.bars[:bars]) for h in human])
    half = len(human) // 2
    gen["groove_similarity_to_human"] = groove_similarity(gen, hum)
    hum["groove_similarity_to_human"] = groove_similarity(summarize(human[:half]), summarize(human[half:]))
    return {"generated": gen, "human_heldout": hum}


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
