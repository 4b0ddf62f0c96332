"""`midibridge data build|check|stats|load-midicaps|bundle`: the training corpus.

Thin click layer over `models.corpus`, which is imported inside each command so that `bridge` itself
never imports music21, torch or `models` at import time.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bridge.cli.groups import data_group
from bridge.cli.options import emit_json, json_option, require_train_extra

_COLLECTION_NAMES = (
    "essen", "oneill", "ryan", "aird", "miscfolk", "nottingham", "chorales", "palestrina", "monteverdi",
    "renaissance", "trecento", "classical",
)  # fmt: skip  (mirrors models.corpus.sources.COLLECTIONS; a test keeps them equal)


def _progress_bar():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description:>12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())


@data_group.command("build")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Output corpus directory.")
@click.option("--limit-per-collection", type=int, default=0, show_default=True,
              help="Pieces per collection (0 = all); small values make a tiny corpus for tests.")
@click.option("--workers", type=int, default=2, show_default=True, help="Worker processes.")
@click.option("--collections", default=",".join(_COLLECTION_NAMES), show_default=True,
              help="Comma-separated collections to include.")
@click.option("--cache", "cache_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Parse cache directory (default: OUT/cache); reuse it to make rebuilds fast.")
@click.option("--midi-dir", "midi_dirs", multiple=True, type=click.Path(path_type=Path, file_okay=False),
              help="Also include your own MIDI files from this folder (collection 'midi').")
@click.option("--mma-fraction", type=float, default=None, help="Share of folk pieces given an MMA groove version.")
@json_option
def build(out: Path, limit_per_collection: int, workers: int, collections: str, cache_dir: Path | None,
          midi_dirs: tuple[Path, ...], mma_fraction: float | None, as_json: bool) -> None:
    """Build the training corpus (clips, captions.jsonl, report.jsonl, manifest.json) from the music21 corpus."""
    require_train_extra()
    from models.corpus import BuildConfig, build_corpus

    names = tuple(n.strip() for n in collections.split(",") if n.strip())
    unknown = [n for n in names if n not in _COLLECTION_NAMES]
    if unknown:
        raise click.ClickException(f"unknown collection(s) {', '.join(unknown)}; known: {', '.join(_COLLECTION_NAMES)}")
    for d in midi_dirs:
        if not d.is_dir():
            raise click.ClickException(f"--midi-dir {d} is not a directory")
    extra = {} if mma_fraction is None else {"mma_fraction": mma_fraction}
    cfg = BuildConfig(out=str(out), cache_dir=str(cache_dir) if cache_dir else "", collections=names,
                      limit_per_collection=limit_per_collection, workers=workers, **extra)
    if as_json:
        manifest = build_corpus(cfg, None, tuple(str(d) for d in midi_dirs))
        emit_json(manifest)
        return
    if not sys.stderr.isatty():
        manifest = build_corpus(cfg, _log_lines(), tuple(str(d) for d in midi_dirs))
    else:
        manifest = _build_with_bar(cfg, build_corpus, midi_dirs)
    c = manifest["counts"]
    click.echo(f"{c['clips']} clips from {c['pieces']} pieces in {manifest['build_seconds']:.0f}s "
               f"({manifest['cached_source_files']}/{manifest['source_files']} source files cached); "
               f"{c['reports']} skipped or capped inputs in {out / 'report.jsonl'}")


def _log_lines():
    """Progress for a build running under nohup: a timestamped line per stage every 5 %."""
    import time

    shown: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        step = int(20 * done / max(1, total))
        if shown.get(stage) != step:
            shown[stage] = step
            click.echo(f"{time.strftime('%H:%M:%S')} {stage}: {done}/{total}", err=True)
            sys.stderr.flush()

    return progress


def _build_with_bar(cfg, build_corpus, midi_dirs):
    with _progress_bar() as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        return build_corpus(cfg, progress, tuple(str(d) for d in midi_dirs))


@data_group.command("check")
@click.argument("corpus", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--min-clips", type=int, default=20_000, show_default=True, help="Required number of clips.")
@click.option("--min-pieces", type=int, default=5_000, show_default=True, help="Required distinct pieces.")
@click.option("--require-categories", default="folk,chorale,polyphony", show_default=True,
              help="Comma-separated categories that must be present.")
@json_option
def check(corpus: Path, min_clips: int, min_pieces: int, require_categories: str, as_json: bool) -> None:
    """Verify a built corpus: counts, split disjointness, held-out phrasing, files. Exits 1 on violation."""
    from models.corpus.check import check_corpus

    categories = tuple(c.strip() for c in require_categories.split(",") if c.strip())
    result = check_corpus(corpus, min_clips=min_clips, min_pieces=min_pieces, categories=categories)
    if as_json:
        emit_json(result)
    else:
        for item in result["checks"]:
            mark = "ok  " if item["ok"] else "FAIL"
            click.echo(f"{mark} {item['name']}: {item['detail']}")
    if not result["ok"]:
        raise SystemExit(1)


@data_group.command("stats")
@click.argument("corpus", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--top", type=int, default=12, show_default=True, help="Rows per histogram.")
@json_option
def stats(corpus: Path, top: int, as_json: bool) -> None:
    """Counts and histograms: collections, splits, keys, meters, tempo words, instruments, families."""
    from models.corpus.stats import corpus_stats

    try:
        result = corpus_stats(corpus)
    except FileNotFoundError as e:
        raise click.ClickException(str(e)) from e
    if as_json:
        emit_json(result)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{result['clips']}[/] clips, [bold]{result['pieces']}[/] pieces in {corpus}")
    for name, hist in result["histograms"].items():
        table = Table(title=name, show_header=False, min_width=40)
        for value, count in list(hist.items())[:top]:
            table.add_row(str(value), str(count))
        console.print(table)


@data_group.command("load-midicaps")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--midi-dir", required=True, type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Root of the Lakh MIDI files that `location` paths are relative to.")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Output corpus directory.")
@click.option("--limit", type=int, default=0, help="Read at most this many rows (0 = all).")
@json_option
def load_midicaps(path: Path, midi_dir: Path, out: Path, limit: int, as_json: bool) -> None:
    """Convert a MidiCaps train.json (JSON lines) plus Lakh MIDI files into the corpus format."""
    from models.corpus.midicaps import load_midicaps as run

    manifest = run(path, midi_dir, out, limit=limit)
    if as_json:
        emit_json(manifest)
        return
    c = manifest["counts"]
    click.echo(f"{c['clips']} clips ({c['by_split']}) written to {out}; {c['reports']} skipped rows in report.jsonl")


@data_group.command("bundle")
@click.option("--corpus", "corpus", required=True, type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="A built corpus.")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Library folder to fill (e.g. bridge/assets/library).")
@click.option("--count", type=int, default=80, show_default=True, help="Number of files.")
@click.option("--max-bytes", type=int, default=3_000_000, show_default=True, help="Size limit of the folder.")
@json_option
def bundle(corpus: Path, out: Path, count: int, max_bytes: int, as_json: bool) -> None:
    """Copy a small, varied set of public-domain clips (never Essen) with readable names and SOURCES.md."""
    from models.corpus.bundle import bundle_library

    try:
        result = bundle_library(corpus, out, count=count, max_bytes=max_bytes)
    except ValueError as e:
        raise click.ClickException(str(e)) from e
    if as_json:
        emit_json(result)
        return
    click.echo(f"{result['files']} files ({result['bytes'] / 1e6:.2f} MB) in {out}; sources in {out / 'SOURCES.md'}")
