"""Generation speed: ONNX incremental decoding vs torch eager (same caches, same sampling loop), in one run.

    OMP_NUM_THREADS=1 .venv/bin/python bench/generate.py [--pieces 5] [--bars 16] [--json]

Runs from a fresh clone: the torch eager baseline is rebuilt from the shipped ONNX graphs' own weights
(`export.generation.torch_from_onnx`, logits checked against onnxruntime to 1e-4 first), so it needs no
checkpoint. Reports the machine, load times, per-step latency p50/p99 of each model, tokens/s through both
models, the ONNX/torch ratio (end to end with sampling, and model steps alone), time to first bar (one bar
of chords then its melody from a cold cache, p50/p99) and the real-time factor with the full texture
(chords, bass, melody, drums realised and written to a MIDI file). 1 thread each.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class Counting:
    """Wraps a stepper: counts the tokens fed through it and times every feed."""

    def __init__(self, inner):
        self.inner, self.tokens, self.times = inner, 0, []

    def reset(self):
        self.inner.reset()

    def feed(self, tokens):
        t = time.perf_counter()
        out = self.inner.feed(tokens)
        self.times.append(time.perf_counter() - t)
        self.tokens += len(tokens)
        return out

    def clear(self):
        self.tokens, self.times = 0, []


class Pair:
    def __init__(self, backbone, melody):
        self.backbone, self.melody = Counting(backbone), Counting(melody)


def _pct(xs, q) -> float:
    import numpy as np

    return round(1000 * float(np.percentile(xs, q)), 3) if len(xs) else 0.0


def _machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import onnxruntime as ort
    import torch

    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "onnxruntime": ort.__version__,
            "torch": torch.__version__, "threads": 1, "load_average": load}


def run(models, pieces: int, bars: int, prompt: str, texture: bool = True) -> dict:
    import numpy as np

    from bridge.generation.encoding import piece_roles, song_to_piece
    from bridge.generation.generate import generate_backbone, generate_melody, generate_song
    from bridge.generation.midi_out import assign_channels, write_piece
    from bridge.generation.prompt import parse_prompt
    from bridge.generation.texture import style_for

    c0 = parse_prompt(prompt).with_(bars=bars)
    generate_song(models, c0.with_(seed=999, bars=2))  # warm-up: first-run allocations are not the model's
    first = []
    for s in range(max(pieces, 5)):
        c = c0.with_(seed=100 + s)
        rng = np.random.default_rng(c.seed)
        t = time.perf_counter()
        bar = generate_backbone(models.backbone, c, rng, 1)
        generate_melody(models.melody, c, rng, bar)
        first.append(time.perf_counter() - t)
    models.backbone.clear()
    models.melody.clear()
    music_s = gen_s = full_s = 0.0
    style = None
    with tempfile.TemporaryDirectory() as tmp:
        for s in range(pieces):
            c = c0.with_(seed=s)
            t = time.perf_counter()
            song = generate_song(models, c)
            gen_s += time.perf_counter() - t
            if texture:
                style = style_for(song.meter, prompt + " with drums")
                piece = song_to_piece(song, style)
                write_piece(piece, Path(tmp) / f"{s}.mid", assign_channels(piece_roles(piece), dict(style.channels)))
            full_s += time.perf_counter() - t
            music_s += len(song.bars) * song.bar_quarters * 60.0 / song.tempo_bpm
    bb, mel = models.backbone, models.melody
    tokens = bb.tokens + mel.tokens
    step_s = sum(bb.times) + sum(mel.times)
    return {
        "pieces": pieces, "bars": bars, "seconds": round(gen_s, 3), "tokens": tokens,
        "tokens_per_s": round(tokens / gen_s, 1),
        "model_step_seconds": round(step_s, 3), "model_tokens_per_s": round(tokens / step_s, 1),
        "backbone_step_ms": {"p50": _pct(bb.times, 50), "p99": _pct(bb.times, 99), "n": len(bb.times)},
        "melody_step_ms": {"p50": _pct(mel.times, 50), "p99": _pct(mel.times, 99), "n": len(mel.times)},
        "music_seconds": round(music_s, 1),
        "real_time_factor": round(music_s / gen_s, 2),
        "real_time_factor_full_texture": round(music_s / full_s, 2) if texture else None,
        "texture_roles": list(style.roles) if style is not None else None,
        "time_to_first_bar_ms": {"p50": _pct(first, 50), "p99": _pct(first, 99), "n": len(first)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--onnx", type=Path, default=None, help="exported model dir (default: the shipped models)")
    ap.add_argument("--pieces", type=int, default=5)
    ap.add_argument("--bars", type=int, default=16)
    ap.add_argument("--prompt", default="a lively jig in G major")
    ap.add_argument("--json", action="store_true", help="print only the JSON report")
    args = ap.parse_args()

    import torch

    from bridge.generation.runtime import DEFAULT_MODEL_DIR, GenerationModels
    from export.generation import check_melody_kv_parity, check_parity, torch_from_onnx
    from models.generation.steppers import TorchModels

    torch.set_num_threads(1)
    d = args.onnx or DEFAULT_MODEL_DIR
    t = time.perf_counter()
    onnx = GenerationModels.load(d, threads=1)
    onnx_load = time.perf_counter() - t
    t = time.perf_counter()
    (tb, _), (tmel, _) = torch_from_onnx(d / "backbone.onnx"), torch_from_onnx(d / "melody.onnx")
    torch_load = time.perf_counter() - t
    parity = [check_parity("backbone", tb, d / "backbone.onnx", 1e-4),
              check_parity("melody", tmel, d / "melody.onnx", 1e-4)]
    if (d / "melody_kv.onnx").exists():  # the graph the runtime steps the melody with
        parity.append(check_melody_kv_parity(tmel, d / "melody_kv.onnx", steps=300))
    if not all(p["ok"] for p in parity):
        raise SystemExit(f"rebuilt torch models differ from the graphs: {parity}")
    tm = TorchModels(tb, tmel)
    report = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": _machine(),
        "load_ms": {"onnx_sessions": round(1000 * onnx_load, 1),
                    "torch_rebuilt_from_onnx": round(1000 * torch_load, 1)},
        "onnx_melody_graph": type(onnx.melody).__name__,
        "rebuild_parity": [{k: p[k] for k in ("model", "max_abs_logit_diff", "ok")} for p in parity],
        "onnx_incremental": run(Pair(onnx.backbone, onnx.melody), args.pieces, args.bars, args.prompt),
        "torch_eager": run(Pair(tm.backbone, tm.melody), args.pieces, args.bars, args.prompt),
    }
    o, te = report["onnx_incremental"], report["torch_eager"]
    report["speedup_onnx_over_torch"] = {
        "end_to_end_tokens_per_s": round(o["tokens_per_s"] / max(te["tokens_per_s"], 1e-9), 2),
        "model_steps": round(o["model_tokens_per_s"] / max(te["model_tokens_per_s"], 1e-9), 2),
        "goal": 5.0,
    }
    report["goals"] = {"time_to_first_bar_ms_below": 50.0,
                       "time_to_first_bar_ok": o["time_to_first_bar_ms"]["p99"] < 50.0}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    m = report["machine"]
    print(f"machine: {m['cpu']} ({m['cores']} cores, load {m['load_average']}), onnxruntime {m['onnxruntime']}, "
          f"torch {m['torch']}, 1 thread")
    print(f"command: {report['command']}")
    print(f"load: ONNX sessions {report['load_ms']['onnx_sessions']} ms; torch rebuilt from the graphs "
          f"{report['load_ms']['torch_rebuilt_from_onnx']} ms (logit parity "
          f"{', '.join(p['model'] + ' ' + format(p['max_abs_logit_diff'], '.1e') for p in parity)})")
    for name, r in (("ONNX", o), ("torch eager", te)):
        print(f"{name:>12}: {r['tokens_per_s']} tokens/s end to end ({r['model_tokens_per_s']} in model steps); "
              f"backbone step p50 {r['backbone_step_ms']['p50']} / p99 {r['backbone_step_ms']['p99']} ms; melody "
              f"step p50 {r['melody_step_ms']['p50']} / p99 {r['melody_step_ms']['p99']} ms; first bar p50 "
              f"{r['time_to_first_bar_ms']['p50']} / p99 {r['time_to_first_bar_ms']['p99']} ms; real-time factor "
              f"{r['real_time_factor']} (full texture {r['real_time_factor_full_texture']})")
    s = report["speedup_onnx_over_torch"]
    print(f"ONNX / torch eager: {s['end_to_end_tokens_per_s']}x end to end, {s['model_steps']}x model steps "
          f"(goal {s['goal']}x)")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
