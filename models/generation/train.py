"""Train the backbone or the melody model on a `data generation` directory, on a wall-clock budget.

Reads top to bottom (nanoGPT style): batches, evaluation, learning rate, one loop. Checkpoints store the
config beside the weights (`ckpt.pt` + `config.json`); `--resume` continues from `ckpt.pt`.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from bridge.generation import vocab as V
from bridge.generation.encoding import Song, backbone_tokens, melody_tokens, transpose_song
from models.generation.backbone import Backbone, BackboneConfig
from models.generation.data import songs_of
from models.generation.melody import MelodyConfig, MelodyXL

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- batches


def crop_song(song: Song, rng: np.random.Generator, max_bars: int) -> Song:
    if len(song.bars) <= max_bars:
        return song
    start = int(rng.integers(0, len(song.bars) - max_bars + 1))
    return replace(song, bars=song.bars[start:start + max_bars])


def augment(song: Song, rng: np.random.Generator) -> Song:
    """Transposition to any of the 12 keys (training only)."""
    return transpose_song(song, int(rng.integers(-5, 7)))


def pad_stack(rows: list[np.ndarray], length: int) -> np.ndarray:
    out = np.full((len(rows), length), V.PAD, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, :min(len(r), length)] = r[:length]
    return out


def backbone_batch(songs, rng, batch: int, max_len: int, train: bool = True):
    rows = []
    for i in range(batch):
        s = songs[int(rng.integers(len(songs)))] if train else songs[i]
        if train:
            s = augment(crop_song(s, rng, max_len // 5), rng)
        rows.append(backbone_tokens(s))
    toks = pad_stack(rows, min(max_len, max(len(r) for r in rows)))
    harm = np.stack([V.harmonic_ids(r) for r in toks])
    return torch.from_numpy(toks), torch.from_numpy(harm)


def melody_batch(songs, rng, batch: int, max_len: int, train: bool = True):
    rows, masks = [], []
    for i in range(batch):
        s = songs[int(rng.integers(len(songs)))] if train else songs[i]
        if train:
            s = augment(crop_song(s, rng, max_len // 20), rng)
        t, m = melody_tokens(s)
        rows.append(t)
        masks.append(m)
    n = min(max_len, max(len(r) for r in rows))
    toks = pad_stack(rows, n)
    mask = np.zeros_like(toks)
    for i, m in enumerate(masks):
        mask[i, :min(len(m), n)] = m[:n]
    return torch.from_numpy(toks), torch.from_numpy(mask)


# ---------------------------------------------------------------- evaluation


@torch.no_grad()
def evaluate(kind: str, model, songs: list[Song], max_len: int, batch: int = 16) -> float:
    """Mean NLL per predicted token (nats) over held-out songs in their own keys."""
    model.eval()
    total, count = 0.0, 0.0
    rng = np.random.default_rng(0)
    for i in range(0, len(songs), batch):
        part = songs[i:i + batch]
        if kind == "backbone":
            toks, harm = backbone_batch(part, rng, len(part), max_len, train=False)
            logits = model(toks[:, :-1], harm[:, :-1])[0]
            tgt = toks[:, 1:]
            nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), tgt.reshape(-1),
                                                    ignore_index=V.PAD, reduction="sum")
            total += float(nll)
            count += float((tgt != V.PAD).sum())
        else:
            toks, mask = melody_batch(part, rng, len(part), max_len, train=False)
            t, c = model.sequence_loss(toks, mask)
            total += float(t)
            count += float(c)
    model.train()
    return total / max(count, 1.0)


def lr_at(frac: float, step: int, base: float, warmup: int = 100) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))


# ---------------------------------------------------------------- loop


def train(kind: str, data_dir: Path, out: Path, minutes: float, seed: int = 0, config: dict | None = None,
          batch: int = 16, max_len: int | None = None, lr: float = 1e-3, eval_every_s: float = 90.0,
          resume: bool = False, max_steps: int | None = None, threads: int = 1, valid_limit: int = 48) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    train_songs = songs_of(data_dir, "train")
    valid_songs = songs_of(data_dir, "valid")[:valid_limit]  # a fixed subset keeps evaluation cheap
    if kind == "backbone":
        cfg = BackboneConfig(**(config or {}))
        model = Backbone(cfg)
        max_len = max_len or 256
        get_batch = backbone_batch
    else:
        cfg = MelodyConfig(**(config or {}))
        model = MelodyXL(cfg)
        max_len = max_len or 384
        get_batch = melody_batch
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05, betas=(0.9, 0.98))
    step, best, elapsed0 = 0, float("inf"), 0.0
    if resume and (out / "ckpt.pt").exists():
        ck = torch.load(out / "ckpt.pt", weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optim"])
        step, best, elapsed0 = ck["step"], ck["best_val"], ck.get("elapsed", 0.0)
    cfg.save(out / "config.json")
    n_params = sum(p.numel() for p in model.parameters())
    log.info("%s: %d params, %d train / %d valid songs, budget %.1f min", kind, n_params, len(train_songs),
             len(valid_songs), minutes)
    logf = (out / "log.jsonl").open("a")
    t0 = time.time() - elapsed0
    last_eval = time.time()
    budget = minutes * 60
    model.train()

    def save(path: Path, val: float) -> None:
        torch.save({"model": model.state_dict(), "optim": opt.state_dict(), "config": asdict(cfg), "kind": kind,
                    "step": step, "best_val": best, "val": val, "elapsed": time.time() - t0}, path)

    while True:
        elapsed = time.time() - t0
        done = elapsed >= budget or (max_steps is not None and step >= max_steps)
        if done or time.time() - last_eval >= eval_every_s:
            val = evaluate(kind, model, valid_songs, max_len)
            rec = {"step": step, "minutes": round(elapsed / 60, 2), "val_nll": round(val, 4)}
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
            log.info("%s", rec)
            if val < best:
                best = val
                save(out / "best.pt", val)
            save(out / "ckpt.pt", val)
            last_eval = time.time()
            if done:
                break
        # With --max-steps the schedule follows steps (reproducible on a loaded machine), else the clock.
        frac = max(elapsed / budget, step / max_steps) if max_steps else elapsed / budget
        for g in opt.param_groups:
            g["lr"] = lr_at(frac, step, lr)
        a, b = get_batch(train_songs, rng, batch, max_len)
        if kind == "backbone":
            loss = model.loss(a, b)
        else:
            total, count = model.sequence_loss(a, b)
            loss = total / count.clamp(min=1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 50 == 0:
            logf.write(json.dumps({"step": step, "train_loss": round(float(loss), 4)}) + "\n")
            logf.flush()
    logf.close()
    return {"kind": kind, "steps": step, "best_val_nll": best, "params": n_params, "out": str(out)}


def load_checkpoint(path: Path):
    """(model in eval mode, kind) from a checkpoint written by `train`."""
    ck = torch.load(path, weights_only=False)
    if ck["kind"] == "backbone":
        model = Backbone(BackboneConfig(**ck["config"]))
    else:
        model = MelodyXL(MelodyConfig(**ck["config"]))
    model.load_state_dict(ck["model"])
    return model.eval(), ck["kind"]


def main() -> None:  # background runs: nohup python -m models.generation.train ...
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["backbone", "melody"])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-hrpe", action="store_true")
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--max-len", type=int, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    config = {"d_model": args.d_model, "n_layer": args.layers, "d_ff": 4 * args.d_model}
    if args.kind == "backbone":
        config["use_hrpe"] = not args.no_hrpe
    res = train(args.kind, args.data, args.out, args.minutes, args.seed, config, batch=args.batch, resume=args.resume,
                max_steps=args.max_steps, eval_every_s=150, max_len=args.max_len)
    log.info("done %s", res)


if __name__ == "__main__":
    main()
