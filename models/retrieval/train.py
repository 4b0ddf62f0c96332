"""Train the retrieval dual encoder. Reads top to bottom: args, data, model, schedule, one loop.

    midibridge train retrieval --data corpus --out runs/retrieval [--device cuda] [--minutes 60]
    torchrun --nproc_per_node 2 -m models.retrieval.train --data corpus --out runs/r   # DDP (gloo/nccl)

Only the MIDI tower and the small projections train; captions are encoded once by the frozen MiniLM
(`CaptionCache`). `--minutes` counts total training time across `--resume`s and drives the LR decay.
`--init-from RUN` starts from another run's weights with a fresh optimizer and schedule (`--init-from-onnx DIR`
from an exported directory, e.g. the shipped model); `--aux-weight W` adds training-only heads that predict the
caption's key, meter, tempo and instruments from the clip.

`--view-weight W` adds MIDI<->MIDI contrastive views (models.retrieval.views): every clip of a batch is read as
one of the library's windows (the runtime's own `MidiWindow.of_piece`, for both objectives) and paired with a
second view of its first bars (played on piano at another tempo, or re-voiced; louder or softer, loose onsets,
maybe transposed) under an InfoNCE term of weight W, so the tower ranks by notes. Model selection then uses the
valid text R@10 plus the valid view top-3 (each view against every valid window).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import logging
import math
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

from bridge.music import load_midi
from bridge.tokens import (
    MidiWindow,
    default_tokenizer,
    load_tokenizer,
    model_vocab_size,
    pad_batch,
    save_tokenizer,
)
from models.retrieval import views as views_lib
from models.retrieval.aux_heads import AuxHeads, aux_accuracy, aux_loss
from models.retrieval.aux_targets import clip_targets
from models.retrieval.data import TokenCache, held_out_family, read_clips, usable, valid_subset
from models.retrieval.losses import contrastive_loss, info_nce_loss, same_caption_mask
from models.retrieval.metrics import recall_at
from models.retrieval.model import RetrievalConfig, RetrievalModel
from models.retrieval.text import CaptionCache

log = logging.getLogger(__name__)


@dataclass
class TrainArgs:
    data: str
    out: str
    device: str = "cpu"
    max_steps: int = 0  # 0: no step limit (then --minutes must be set)
    minutes: float = 0.0  # 0: no time limit
    batch_size: int = 32
    lr: float = 5e-4
    min_lr_frac: float = 0.05
    warmup_steps: int = 100
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    seed: int = 1234
    loss: str = "margin"
    margin: float = 0.3
    pooling: str = "mean"
    max_len: int = 256
    header: bool = True  # windows start with the clip's key, meter, tempo and programs (bridge.tokens.MidiWindow)
    d_model: int = 384
    n_layers: int = 4
    n_heads: int = 6
    d_ff: int = 1024
    dropout: float = 0.1
    start_crop_prob: float = 0.0  # share of training crops that keep the clip's first tokens
    eval_every: int = 100
    checkpoint_minutes: float = 3.0
    valid_size: int = 256
    threads: int = 0  # torch CPU threads; 0 = torch's default
    resume: bool = False
    init_from: str = ""  # a run or checkpoint dir: start from its weights (config + tokenizer from it too)
    init_from_onnx: str = ""  # an exported model dir: start from its ONNX towers (models.retrieval.from_onnx)
    view_weight: float = 0.0  # >0: add the MIDI<->MIDI view objective with this weight (module docstring)
    text_weight: float = 1.0  # weight of the text<->MIDI objective; 0 (with views) trains without captions
    distill_weight: float = 0.0  # >0: keep windows' vectors near the initial model's (1 - cosine), this weight
    aux_weight: float = 0.0  # >0: add the auxiliary key/meter/tempo/instrument heads with this weight
    cache_dir: str = ""
    progress: bool = True

    def model_config(self, vocab_size: int) -> RetrievalConfig:
        return RetrievalConfig(
            vocab_size=vocab_size, max_len=self.max_len, header=self.header, d_model=self.d_model,
            n_layers=self.n_layers, n_heads=self.n_heads, d_ff=self.d_ff, dropout=self.dropout,
            pooling=self.pooling, loss=self.loss, margin=self.margin,
        )


# ----------------------------------------------------------------------------- setup


def setup_distributed(device: str) -> tuple[int, int, str]:
    """(rank, world size, device) ; torchrun sets WORLD_SIZE/RANK/LOCAL_RANK."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, device
    backend = "nccl" if device.startswith("cuda") else "gloo"
    dist.init_process_group(backend=backend)
    if device.startswith("cuda"):
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    return dist.get_rank(), world, device


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@dataclass
class TrainData:
    ids: list[np.ndarray]  # full-clip REMI ids of each training clip
    keys: list[int]  # analysed key class of each training clip (bridge.tokens.key_class)
    caption_rows: list[np.ndarray]  # rows of `vectors` that caption clip i
    vectors: np.ndarray  # (n_captions, 384) frozen MiniLM sentence vectors
    valid_ids: np.ndarray  # (V, T) padded, fixed crop
    valid_vectors: np.ndarray  # (V, 384) one caption per valid clip
    window: MidiWindow
    targets: dict[str, np.ndarray]  # aux targets, one row per training clip (aux_targets.clip_targets)
    locations: list[str] = dataclasses.field(default_factory=list)  # corpus file of each training clip
    piece_ids: np.ndarray | None = None  # piece of each training clip: copies of a piece are not negatives
    valid_anchors: np.ndarray | None = None  # (V', T) library windows of valid clips (view objective only)
    valid_views: np.ndarray | None = None  # (V', T) their second views, fixed


def prepare_data(args: TrainArgs, tokenizer, cfg: RetrievalConfig, rank: int) -> TrainData:
    """Tokenise clips and encode captions once (rank 0 writes the caches, the others wait and read)."""
    data_dir = Path(args.data)
    clips = read_clips(data_dir, ("train", "valid", "test"))
    held = held_out_family(data_dir, clips)
    clips = [c for c in clips if c.split in ("train", "valid")]
    cache_dir = args.cache_dir or None
    if rank == 0:
        TokenCache(data_dir, tokenizer, cache_dir).ensure([c.location for c in clips])
    if dist.is_initialized():
        dist.barrier()
    tokens = TokenCache(data_dir, tokenizer, cache_dir)
    train = [c for c in usable(clips, tokens) if c.split == "train"]
    train = [c for c in train if any(f != held for _, f in c.captions)]
    valid = valid_subset([c for c in usable(clips, tokens) if c.split == "valid"], args.valid_size)
    if not train:
        raise ValueError(f"no usable training clips in {data_dir}")
    if not valid:  # a corpus without a valid split still trains; R@10 is then on training clips
        log.warning("no valid clips; valid R@10 is measured on training clips")
        valid = valid_subset(train, args.valid_size)
    valid_texts = [next(t for t, f in c.captions if f != held) for c in valid]
    if rank == 0:
        # --text-weight 0 (views and distillation only) needs just the valid captions, not MiniLM over all.
        texts = [t for c in train for t, f in c.captions if f != held] if args.text_weight > 0 else []
        CaptionCache(_caption_cache_path(args)).ensure(texts + valid_texts)
    if dist.is_initialized():
        dist.barrier()
    captions = CaptionCache(_caption_cache_path(args))
    window = MidiWindow(tokenizer, cfg.max_len, cfg.header)
    valid_anchors = valid_views = None
    if args.view_weight > 0:
        valid_anchors, valid_views = _valid_view_pairs(data_dir, valid, window)
    return TrainData(
        ids=[tokens.get(c.location) for c in train],
        keys=[tokens.key(c.location) for c in train],
        caption_rows=[np.array([captions.index[t] for t, f in c.captions if f != held and t in captions.index],
                               dtype=np.int64) for c in train],
        vectors=captions.vectors,
        valid_ids=pad_batch([window.of_ids(tokens.get(c.location), tokens.key(c.location)) for c in valid],
                            cfg.max_len),
        valid_vectors=captions.lookup(valid_texts),
        window=window,
        targets=clip_targets([c.record for c in train]),
        locations=[c.location for c in train],
        piece_ids=np.unique([c.piece_id for c in train], return_inverse=True)[1],
        valid_anchors=valid_anchors,
        valid_views=valid_views,
    )


def _valid_view_pairs(data_dir: Path, valid, window: MidiWindow) -> tuple[np.ndarray, np.ndarray]:
    """A fixed (window, second view) pair per valid clip (seed 0), for the view top-3."""
    rng = np.random.default_rng(0)
    anchors, views = [], []
    for c in valid:
        piece = load_midi(data_dir / c.location)
        anchor = views_lib.library_window(piece, rng)
        view = views_lib.second_view(anchor, rng)
        if view is not None:
            anchors.append(window.of_piece(anchor))
            views.append(window.of_piece(view))
    return pad_batch(anchors, window.max_len), pad_batch(views, window.max_len)


class PieceCache:
    """Training clips parsed once (a few KB each) and kept: view batches re-cut them every step."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self._pieces: dict[str, object] = {}

    def get(self, location: str):
        piece = self._pieces.get(location)
        if piece is None:
            piece = self._pieces[location] = load_midi(self.data_dir / location)
        return piece


def get_view_batch(data: TrainData, pieces: PieceCache, order: np.ndarray, rng: np.random.Generator):
    """(ids, rows with a view, captions): ids stack each clip as one of its library windows (rows 0..B-1) over
    its second view (rows B..2B-1), one padded batch for one forward; captions are one per clip at random."""
    anchors, views, has_view = [], [], []
    for i in order:
        window = views_lib.library_window(pieces.get(data.locations[i]), rng)
        view = views_lib.second_view(window, rng)
        anchors.append(data.window.of_piece(window))
        views.append(data.window.of_piece(view) if view is not None else anchors[-1])
        has_view.append(view is not None)
    if all(len(data.caption_rows[i]) for i in order):
        captions = torch.from_numpy(data.vectors[[int(rng.choice(data.caption_rows[i])) for i in order]])
    else:  # --text-weight 0: no caption vectors, the text objective is off
        captions = torch.zeros((len(order), data.vectors.shape[1]), dtype=torch.float32)
    return torch.from_numpy(pad_batch(anchors + views, data.window.max_len)), torch.tensor(has_view), captions


def _caption_cache_path(args: TrainArgs) -> Path:
    root = Path(args.cache_dir) if args.cache_dir else Path(args.data) / ".retrieval_cache"
    return root / "captions_minilm.npz"


def get_batch(data: TrainData, order: np.ndarray, rng: np.random.Generator, start_prob: float = 0.0):
    """Random crop of each clip + one of its captions at random."""
    # Runtime windows are the start of a clip; a share of crops keeps it (--start-crop-prob) so training sees
    # the same kind of window it will be asked about.
    seqs = [data.window.of_ids(data.ids[i], data.keys[i], rng, start_prob) for i in order]
    rows = [int(rng.choice(data.caption_rows[i])) for i in order]
    return torch.from_numpy(pad_batch(seqs, data.window.max_len)), torch.from_numpy(data.vectors[rows])


def _initial_tower(args: TrainArgs, model: RetrievalModel) -> nn.Module:
    """The MIDI tower training started from: the export's (also after --resume), else the model as it is now."""
    if args.init_from_onnx:
        from models.retrieval.from_onnx import load_from_export

        return load_from_export(args.init_from_onnx).midi
    return copy.deepcopy(model.midi)


def batch_targets(data: TrainData, order: np.ndarray, device: str) -> dict[str, torch.Tensor]:
    return {name: torch.from_numpy(v[order]).to(device) for name, v in data.targets.items()}


class Trainable(nn.Module):
    """What one step updates: the model plus (optional) aux heads, one module so DDP syncs both."""

    def __init__(self, model: RetrievalModel, aux: AuxHeads | None):
        super().__init__()
        self.model = model
        self.aux = aux

    def forward(self, ids: torch.Tensor, vecs: torch.Tensor):
        text, midi, log_inv_temp = self.model(ids, vecs)
        return text, midi, log_inv_temp, (self.aux(midi) if self.aux is not None else None)


def lr_at(args: TrainArgs, step: int, progress: float) -> float:
    """Linear warmup over steps, then linear decay over `progress` (0..1 of the step or time budget)."""
    if step < args.warmup_steps:
        return args.lr * (step + 1) / args.warmup_steps
    return args.lr * (args.min_lr_frac + (1 - args.min_lr_frac) * max(0.0, 1.0 - progress))


def make_optimizer(model: nn.Module, args: TrainArgs, device: str) -> torch.optim.Optimizer:
    decay = [p for n, p in model.named_parameters() if p.requires_grad and p.dim() >= 2 and "tok" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.requires_grad and not (p.dim() >= 2 and "tok" not in n)]
    groups = [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.98), fused=device.startswith("cuda"))


@torch.no_grad()
def valid_recall(model: RetrievalModel, data: TrainData, device: str, batch: int = 64) -> float:
    model.eval()
    midi = torch.cat([model.encode_midi(torch.from_numpy(data.valid_ids[i : i + batch]).to(device)).float()
                      for i in range(0, len(data.valid_ids), batch)])
    text = model.encode_text(torch.from_numpy(data.valid_vectors).to(device)).float()
    model.train()
    return recall_at(text.cpu().numpy(), midi.cpu().numpy(), 10)


@torch.no_grad()
def valid_view_top3(model: RetrievalModel, data: TrainData, device: str, batch: int = 64) -> float:
    """Share of valid views whose own window is among the 3 nearest of all valid windows."""
    model.eval()
    enc = [torch.cat([model.encode_midi(torch.from_numpy(a[i : i + batch]).to(device)).float()
                      for i in range(0, len(a), batch)]).cpu().numpy() for a in (data.valid_anchors, data.valid_views)]
    model.train()
    return recall_at(enc[1], enc[0], 3)


# ----------------------------------------------------------------------------- checkpoints


def save_checkpoint(out: Path, trainable: Trainable, opt, state: dict, cfg: RetrievalConfig, tokenizer,
                    args: TrainArgs) -> None:
    out.mkdir(parents=True, exist_ok=True)
    cfg.save(out)
    save_tokenizer(tokenizer, out)
    ckpt = {
        "model": trainable.model.state_dict(),
        "aux_heads": trainable.aux.state_dict() if trainable.aux is not None else None,
        "optimizer": opt.state_dict(),
        "config": dataclasses.asdict(cfg),
        "tokenizer_config": tokenizer.config.to_dict(),
        "train_args": dataclasses.asdict(args),
        "git_commit": git_commit(),
        **state,
    }
    tmp = out / "model.pt.tmp"
    torch.save(ckpt, tmp)
    os.replace(tmp, out / "model.pt")


def save_best(out: Path) -> None:
    """Copy the just-saved checkpoint to out/best (what `eval`/`export` should use)."""
    best = out / "best"
    best.mkdir(exist_ok=True)
    for name in ("model.pt", "retrieval_config.json", "midi_tokenizer.json"):
        shutil.copy2(out / name, best / (name + ".tmp"))
        os.replace(best / (name + ".tmp"), best / name)


# ----------------------------------------------------------------------------- the loop


def train(args: TrainArgs, on_progress=None) -> dict:
    """Train; returns {"steps", "valid_R@10", "selection", "best_selection", "out"}: the best selection score
    is valid R@10, plus the valid view top-3 with --view-weight (`selection` names it).
    `on_progress(step, loss, r10, frac)`."""
    if not args.max_steps and not args.minutes:
        raise ValueError("set --max-steps or --minutes (or both)")
    rank, world, device = setup_distributed(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    resume_ckpt = init_ckpt = None
    if args.resume and (out / "model.pt").is_file():
        resume_ckpt = torch.load(out / "model.pt", map_location="cpu", weights_only=False)
        tokenizer = load_tokenizer(out)
        cfg = RetrievalConfig.load(out)
    elif args.init_from_onnx:
        from models.retrieval.from_onnx import load_from_export

        init_dir = Path(args.init_from_onnx)
        init_ckpt = {"model": load_from_export(init_dir).state_dict(), "step": "exported"}
        tokenizer = load_tokenizer(init_dir)
        cfg = dataclasses.replace(RetrievalConfig.load(init_dir), loss=args.loss, margin=args.margin)
    elif args.init_from:
        init_dir = Path(args.init_from)
        init_ckpt = torch.load(init_dir / "model.pt", map_location="cpu", weights_only=False)
        tokenizer = load_tokenizer(init_dir)
        cfg = dataclasses.replace(RetrievalConfig.load(init_dir), loss=args.loss, margin=args.margin)
    else:
        tokenizer = default_tokenizer()
        cfg = args.model_config(model_vocab_size(tokenizer, args.header))
    torch.manual_seed(args.seed + rank)
    rng = np.random.default_rng(args.seed + rank)
    data = prepare_data(args, tokenizer, cfg, rank)
    if rank == 0:
        log.info("training on %d clips (%d captions), valid subset %d, world %d, device %s",
                 len(data.ids), sum(len(r) for r in data.caption_rows), len(data.valid_ids), world, device)

    model = RetrievalModel(cfg)
    model.log_inv_temp.requires_grad_(cfg.loss == "infonce")  # unused parameters would stall DDP
    if init_ckpt is not None:
        model.load_state_dict(init_ckpt["model"])
        log.info("initialised from %s (step %s)", args.init_from or args.init_from_onnx, init_ckpt.get("step"))
    trainable = Trainable(model, AuxHeads(cfg.embed_dim) if args.aux_weight > 0 else None)
    trainable.to(device)
    opt = make_optimizer(trainable, args, device)
    step, elapsed, best = 0, 0.0, -1.0
    if resume_ckpt is not None:
        model.load_state_dict(resume_ckpt["model"])
        if trainable.aux is not None and resume_ckpt.get("aux_heads"):
            trainable.aux.load_state_dict(resume_ckpt["aux_heads"])
        opt.load_state_dict(resume_ckpt["optimizer"])
        step, elapsed, best = resume_ckpt["step"], resume_ckpt["elapsed"], resume_ckpt.get("best_valid_r10", -1.0)
        rng = np.random.default_rng(args.seed + rank + 1000 * step)  # fresh but reproducible batches after resume
        log.info("resumed at step %d (%.1f min trained)", step, elapsed / 60)
    ddp = torch.nn.parallel.DistributedDataParallel(trainable) if world > 1 else trainable
    use_amp = device.startswith("cuda")
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)

    n = len(data.ids)
    pieces = PieceCache(Path(args.data))
    teacher = None
    if args.distill_weight > 0:
        # The tower as it started (the shipped one with --init-from-onnx): windows stay where text search
        # found them while the views pull the played phrases to them.
        teacher = _initial_tower(args, model).eval().requires_grad_(False).to(device)
    perm, cursor = rng.permutation(n), 0
    t_start, last_ckpt = time.time(), time.time()
    r10, loss_value, aux_acc = float("nan"), float("nan"), {}
    budget = args.minutes * 60
    trainable.train()
    while True:
        frac = 0.0
        if args.max_steps:
            frac = max(frac, step / args.max_steps)
        if budget:
            frac = max(frac, (elapsed + time.time() - t_start) / budget)
        if world > 1:  # every rank must agree on the schedule and on when to stop
            t = torch.tensor([frac], device=device)
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
            frac = float(t)
        if frac >= 1.0:
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(args, step, frac)
        if cursor + args.batch_size > n:
            perm, cursor = rng.permutation(n), 0
        order = perm[cursor : cursor + args.batch_size]
        cursor += args.batch_size
        if args.view_weight > 0:
            # Anchors and views go through the tower in one batch (one forward, and DDP sees one call).
            ids, has_view, vecs = get_view_batch(data, pieces, order, rng)
            vecs = torch.cat([vecs, vecs])
        else:
            ids, vecs = get_batch(data, order, rng, args.start_crop_prob)
        ids, vecs = ids.to(device, non_blocking=True), vecs.to(device, non_blocking=True)
        with torch.autocast("cuda", dtype=amp_dtype, enabled=use_amp):
            text, midi, log_inv_temp, aux_logits = ddp(ids, vecs)
        b = len(order)
        loss = torch.zeros((), device=device)
        if args.text_weight > 0:
            loss = args.text_weight * contrastive_loss(
                cfg.loss, text[:b].float(), midi[:b].float(), margin=cfg.margin,
                log_inv_temp=log_inv_temp.float(), same=same_caption_mask(vecs[:b]))
        if teacher is not None:
            with torch.no_grad():
                target = teacher(ids[:b])
            loss = loss + args.distill_weight * (1.0 - (midi[:b].float() * target.float()).sum(-1)).mean()
        if args.view_weight > 0:
            keep = has_view.to(device)
            same_piece = torch.from_numpy(data.piece_ids[order]).to(device)
            same = same_piece[:, None] == same_piece[None, :]
            view_loss = info_nce_loss(midi[b:][keep].float(), midi[:b][keep].float(), log_inv_temp.float(),
                                      same[keep][:, keep])
            loss = loss + args.view_weight * view_loss
        if aux_logits is not None:
            aux_logits = {k: v[:b] for k, v in aux_logits.items()}
        if aux_logits is not None:
            targets = batch_targets(data, order, device)
            loss = loss + args.aux_weight * aux_loss(aux_logits, targets)
            if step % args.eval_every == args.eval_every - 1:
                aux_acc = aux_accuracy(aux_logits, targets)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(trainable.parameters(), args.grad_clip)
        scaler.step(opt)
        scaler.update()
        step += 1
        loss_value = loss.item()

        last = args.max_steps and step >= args.max_steps
        if rank == 0 and (step % args.eval_every == 0 or last):
            r10 = valid_recall(model, data, device)
            view3 = valid_view_top3(model, data, device) if args.view_weight > 0 else None
            score = r10 + (view3 or 0.0)
            log.info("step %d loss %.4f valid R@10 %.3f%s lr %.2e", step, loss_value, r10,
                     f" view top-3 {view3:.3f}" if view3 is not None else "", opt.param_groups[0]["lr"])
            now = elapsed + time.time() - t_start
            state = {"step": step, "elapsed": now, "valid_r10": r10, "valid_view_top3": view3,
                     "best_valid_r10": max(best, score)}  # the selection score: R@10 (+ view top-3)
            if score > best or time.time() - last_ckpt > args.checkpoint_minutes * 60 or last:
                save_checkpoint(out, trainable, opt, state, cfg, tokenizer, args)
                last_ckpt = time.time()
                if score > best:
                    best = score
                    save_best(out)
            _append_log(out, {"step": step, "loss": loss_value, "valid_r10": r10, "minutes": now / 60,
                              **({"valid_view_top3": view3} if view3 is not None else {}),
                              **({"aux_batch_acc": aux_acc} if aux_acc else {})})
        if rank == 0 and on_progress:
            on_progress(step, loss_value, r10, frac)

    if rank == 0:
        view3 = None
        if step % args.eval_every or math.isnan(r10):  # the final state is always evaluated and saved
            r10 = valid_recall(model, data, device)
        if args.view_weight > 0:
            view3 = valid_view_top3(model, data, device)
        score = r10 + (view3 or 0.0)
        now = elapsed + time.time() - t_start
        state = {"step": step, "elapsed": now, "valid_r10": r10, "valid_view_top3": view3,
                 "best_valid_r10": max(best, score)}  # the selection score: R@10 (+ view top-3)
        save_checkpoint(out, trainable, opt, state, cfg, tokenizer, args)
        if score > best or not (out / "best" / "model.pt").is_file():
            best = score
            save_best(out)
        log.info("done: step %d, valid R@10 %.3f (best %.3f), %.1f min", step, r10, best, now / 60)
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    selection = "valid R@10 + view top-3" if args.view_weight > 0 else "valid R@10"
    return {"steps": step, "valid_R@10": r10, "selection": selection, "best_selection": best, "out": str(out)}


def _append_log(out: Path, row: dict) -> None:
    with (out / "train_log.jsonl").open("a") as f:
        f.write(json.dumps(row) + "\n")


def main(argv: list[str] | None = None) -> None:
    """Entry point for `python -m` / torchrun: flags are the TrainArgs fields (--max-steps, --no-progress...)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in dataclasses.fields(TrainArgs):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default)
        elif f.default is dataclasses.MISSING:
            parser.add_argument(flag, required=True)
        else:
            parser.add_argument(flag, type=type(f.default), default=f.default)
    args = TrainArgs(**vars(parser.parse_args(argv)))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    result = train(args)
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(result))


if __name__ == "__main__":
    main()

