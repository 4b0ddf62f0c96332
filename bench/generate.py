"""Generation speed: ONNX incremental decoding vs torch eager (same caches, same sampling loop), in one run.

    .venv/bin/python bench/generate.py --backbone runs/generation/backbone_hrpe_s0/best.pt \
        --melody runs/generation/melody/best.pt --onnx bridge/assets/models/generation --pieces 3 --bars 16

Reports tokens/s (tokens fed through both models), real-time factor (seconds of music per second of
compute) and time to first bar (one bar of chords then its melody, from a cold cache). 1 thread each.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class Counting:
    """Wraps a stepper and counts the tokens fed through it."""

    def __init__(self, inner):
        self.inner, self.tokens = inner, 0

    def reset(self):
        self.inner.reset()

    def feed(self, tokens):
        self.tokens += len(tokens)
        return self.inner.feed(tokens)


class Pair:
    def __init__(self, backbone, melody):
        self.backbone, self.melody = Counting(backbone), Counting(melody)


def run(models, pieces: int, bars: int, prompt: str) -> dict:
    import numpy as np

    from bridge.generation.generate import generate_backbone, generate_melody, generate_song
    from bridge.generation.prompt import parse_prompt

    c0 = parse_prompt(prompt).with_(bars=bars)
    first = []
    for s in range(pieces):
        c = c0.with_(seed=100 + s)
        rng = np.random.default_rng(c.seed)
        t = time.perf_counter()
        bar = generate_backbone(models.backbone, c, rng, 1)
        generate_melody(models.melody, c, rng, bar)
        first.append(time.perf_counter() - t)
    models.backbone.tokens = models.melody.tokens = 0
    t = time.perf_counter()
    music_s = 0.0
    for s in range(pieces):
        c = c0.with_(seed=s)
        song = generate_song(models, c)
        music_s += len(song.bars) * song.bar_quarters * 60.0 / song.tempo_bpm
    dt = time.perf_counter() - t
    tokens = models.backbone.tokens + models.melody.tokens
    return {
        "pieces": pieces,
        "bars": bars,
        "seconds": round(dt, 3),
        "tokens": tokens,
        "tokens_per_s": round(tokens / dt, 1),
        "music_seconds": round(music_s, 1),
        "real_time_factor": round(music_s / dt, 2),
        "time_to_first_bar_ms": round(1000 * float(np.median(first)), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backbone", type=Path, required=True, help="torch checkpoint (best.pt)")
    ap.add_argument("--melody", type=Path, required=True, help="torch checkpoint (best.pt)")
    ap.add_argument("--onnx", type=Path, default=None, help="exported model dir (default: the shipped models)")
    ap.add_argument("--pieces", type=int, default=3)
    ap.add_argument("--bars", type=int, default=16)
    ap.add_argument("--prompt", default="a lively jig in G major")
    args = ap.parse_args()

    import torch

    from bridge.generation.runtime import GenerationModels
    from models.generation.steppers import TorchModels
    from models.generation.train import load_checkpoint

    torch.set_num_threads(1)
    onnx = GenerationModels.load(args.onnx, threads=1)
    tm = TorchModels(load_checkpoint(args.backbone)[0], load_checkpoint(args.melody)[0])
    report = {
        "onnx_incremental": run(Pair(onnx.backbone, onnx.melody), args.pieces, args.bars, args.prompt),
        "torch_eager": run(Pair(tm.backbone, tm.melody), args.pieces, args.bars, args.prompt),
    }
    report["speedup_onnx_over_torch"] = round(
        report["onnx_incremental"]["tokens_per_s"] / max(report["torch_eager"]["tokens_per_s"], 1e-9), 2
    )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
