"""`midibridge index`, `midibridge search` and `midibridge library ...`: a thin layer over bridge.library."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from bridge.cli.options import db_option, emit_json, json_option, load_midi_or_fail

log = logging.getLogger(__name__)


def _open(db: Path | None, with_model: bool = True, model_dir: Path | None = None, threads: int = 0):
    from bridge.library import Library, LibraryBusy  # noqa: F401  (import errors surface here, not at CLI load)

    encoder = _load_encoder(model_dir, threads) if with_model else None
    try:
        return Library.open(db, encoder=encoder)
    except Exception as e:  # a corrupt or foreign index directory: say where and why
        raise click.ClickException(f"cannot open the library index at {db or 'the default location'}: {e}") from e


def _load_encoder(model_dir: Path | None, threads: int = 0):
    """The shipped retrieval model, or None (the library then ranks by features and says so)."""
    from bridge.inference.retrieval import TEXT_CONFIG, default_model_dir

    model_dir = model_dir or default_model_dir()
    if not (model_dir / TEXT_CONFIG).is_file():
        log.info("no retrieval model at %s", model_dir)
        return None
    from bridge.inference import RetrievalEncoders

    try:
        return RetrievalEncoders.load(model_dir, threads=threads)
    except Exception as e:  # a broken model must not make the library unusable
        log.warning("cannot load the retrieval model at %s (%s): ranking by features", model_dir, e)
        return None


def _progress_bar():
    """A rich progress bar on stderr (stdout stays clean for --json) showing files/s."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task) -> Text:
            speed = task.finished_speed or task.speed
            unit = task.fields.get("unit", "files")
            return Text(f"{speed:.1f} {unit}/s" if speed else f"- {unit}/s")

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )


class _RichProgress:
    """Adapts the library's progress(stage, done, total) callback to rich tasks."""

    def __init__(self, bar):
        self.bar = bar
        self.tasks: dict[str, int] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            label, unit = ("analysing", "files") if stage == "analyse" else ("embedding", "windows")
            self.tasks[stage] = self.bar.add_task(label, total=total, unit=unit)
        self.bar.update(self.tasks[stage], completed=done, total=total)


def _first_use(lib, quiet: bool) -> None:
    """A library never indexed gets the bundled clips; show the progress unless stdout is JSON."""
    if quiet:
        lib.ensure_indexed()
        return
    with _progress_bar() as bar:
        if lib.ensure_indexed(progress=_RichProgress(bar)) is not None:
            click.echo("indexed the bundled example library (first use; `midibridge index DIR` adds yours)", err=True)


def _print_issues(issues) -> None:
    if not issues:
        click.echo("no skipped or capped files")
        return
    for i in issues:
        click.echo(f"{i.status:8} {i.path}: {i.reason}")


@click.command()
@click.argument("dirs", nargs=-1, type=click.Path(exists=True, path_type=Path))
@db_option
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Analysis processes.")
@click.option("--report", is_flag=True, help="List every skipped or capped file with its reason.")
@click.option("--no-embed", is_flag=True, help="Index metadata only, even if a retrieval model is installed.")
@json_option
def index(dirs: tuple[Path, ...], db: Path | None, workers: int, report: bool, no_embed: bool, as_json: bool) -> None:
    """Index MIDI files under DIRS (default: the folders indexed before) for search.

    Incremental: unchanged files are skipped, renamed files are recognised by content, deleted files
    leave the index. Broken files never stop a run; --report lists them with the reason.
    """
    from bridge.library import LibraryBusy

    lib = _open(db, with_model=not no_embed)
    try:
        if as_json:
            result = lib.index(list(dirs) or None, workers=workers)
        else:
            with _progress_bar() as bar:
                result = lib.index(list(dirs) or None, progress=_RichProgress(bar), workers=workers)
    except LibraryBusy as e:
        raise click.ClickException(str(e)) from e
    finally:
        lib.close()
    if not result.roots:
        raise click.ClickException("nothing to index: give a folder, e.g. `midibridge index ~/Music/MIDI`")
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(
        f"{result.files_seen} files: {result.added} added, {result.updated} updated, {result.renamed} renamed, "
        f"{result.removed} removed, {result.unchanged} unchanged, {result.skipped_new} newly skipped; "
        f"{result.windows} windows, {result.embedded} embedded in {result.seconds:.1f}s "
        f"({result.files_per_second:.1f} files/s)"
    )
    if result.model is None and not no_embed:
        click.echo("no retrieval model installed: indexed metadata only (search ranks by features)", err=True)
    issues = result.issues
    if report:
        _print_issues(issues)
    elif issues:
        click.echo(f"{len(issues)} files skipped or capped (see `midibridge index --report`)")


def _bar_range(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        a, _, b = text.partition("-")
        first, last = int(a), int(b or a)
    except ValueError as e:
        raise click.BadParameter(f"expected bars like 5-8 or 5, got {text!r}", param_hint="--bars") from e
    return first, last


@click.command()
@click.argument("text", required=False)
@click.option("-k", "k", default=10, show_default=True, type=click.IntRange(1, 1000), help="Number of hits.")
@click.option("--like", "like", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Query by example.")
@click.option("--bars", help="With --like: the bars of the example to use, 1-based inclusive (e.g. 5-8).")
@click.option("--key", help="Only windows in this key: 'A minor', 'F#', 'Bb major'.")
@click.option("--mode", type=click.Choice(["major", "minor"]), help="Only windows in this mode.")
@click.option("--tempo", help="Only windows in this BPM range: '90-110', '120', 'Andante'.")
@click.option("--meter", help="Only windows in this meter: '3/4'.")
@click.option("--instrument", help="Only windows with this instrument (GM name or family): 'piano', 'strings'.")
@click.option("--min-bars", type=click.IntRange(1), help="Only windows at least this many bars long.")
@click.option("--export", "export_dir", type=click.Path(file_okay=False, path_type=Path), help="Write hits as MIDI.")
@click.option("--model", "model_dir", type=click.Path(file_okay=False, path_type=Path), help="Retrieval model dir.")
@db_option
@json_option
def search(text, k, like, bars, key, mode, tempo, meter, instrument, min_bars, export_dir, model_dir, db, as_json):
    """Search the library by TEXT ("sad piano melody in A minor") or by example (--like phrase.mid).

    Keys, modes, meters, tempo words and instruments named in TEXT are honoured: windows that satisfy
    them rank first. The options are hard filters.
    """
    from bridge.library import SearchQuery
    from bridge.library.export import export_hits
    from bridge.library.hashing import content_hash
    from bridge.library.windows import span_for_bars
    from bridge.query import parse_bpm_range

    if not text and like is None:
        raise click.UsageError("give a TEXT query or --like FILE")
    if bars and like is None:
        raise click.UsageError("--bars needs --like")
    # One intra-op thread: one short query gains nothing from two, and a busy second core only adds wait.
    lib = _open(db, model_dir=model_dir, threads=1)
    try:
        _first_use(lib, quiet=as_json)
        like_piece = exclude = exclude_hash = None
        if like is not None:
            piece = load_midi_or_fail(like)
            rng = _bar_range(bars)
            if rng:
                try:
                    span = span_for_bars(piece, *rng)
                except ValueError as e:
                    raise click.BadParameter(str(e), param_hint="--bars") from e
                piece = piece.window(span.start_q, span.stop_q)
            like_piece, exclude, exclude_hash = piece, str(like.resolve()), content_hash(like)
        try:
            query = SearchQuery(
                text=text,
                k=k,
                key=key,
                mode=mode,
                tempo=parse_bpm_range(tempo) if tempo else None,
                meter=meter,
                instrument=instrument,
                min_bars=min_bars,
                like_piece=like_piece,
                exclude_file=exclude,
                exclude_hash=exclude_hash,
            )
            result = lib.search_with_info(query)
        except ValueError as e:
            raise click.ClickException(str(e)) from e
        written = export_hits(result.hits, export_dir, lib.load_hit_piece) if export_dir else []
    finally:
        lib.close()
    if as_json:
        out = result.to_dict(query)
        if export_dir:
            out["exported"] = [str(p) for p in written]
        emit_json(out)
        return
    _print_hits(result)
    if export_dir:
        click.echo(f"wrote {len(written)} MIDI files to {export_dir}")


def _print_hits(result) -> None:
    from rich.console import Console
    from rich.table import Table

    if not result.hits:
        click.echo("no matches (is the library indexed? `midibridge index DIR`)")
        return
    table = Table(show_lines=False)
    for col in ("#", "file", "bars", "time (s)", "score", "key", "tempo", "meter", "instruments"):
        table.add_column(col, overflow="fold")
    for i, h in enumerate(result.hits, start=1):
        table.add_row(
            str(i),
            Path(h.file).name,  # the full path is in --json; a table cell of paths is unreadable
            f"{h.window_start_bar}-{h.window_end_bar}",
            f"{h.start_seconds:.1f}-{h.end_seconds:.1f}",
            f"{h.score:.3f}",
            h.key,
            f"{h.tempo:.0f}",
            h.meter,
            ", ".join(h.instruments[:4]) + (" ..." if len(h.instruments) > 4 else ""),
        )
    Console().print(table)
    click.echo(f"ranking: {result.ranking}")


@click.group()
def library() -> None:
    """Inspect the library index (stats, skipped files)."""


@library.command()
@db_option
@json_option
def stats(db: Path | None, as_json: bool) -> None:
    """Files, windows, skipped files, and key/tempo/meter/instrument histograms."""
    lib = _open(db, with_model=False)
    try:
        _first_use(lib, quiet=as_json)
        s = lib.stats()
    finally:
        lib.close()
    if as_json:
        emit_json(s)
        return
    click.echo(f"index: {s['db']}")
    click.echo(f"folders: {', '.join(s['roots']) or '-'}")
    click.echo(
        f"{s['files']} files, {s['windows']} windows, {s['vectors']} vectors ({s['model'] or 'no model'}), "
        f"{s['skipped']} skipped, {s['capped']} capped"
    )
    for title, hist in (("keys", s["keys"]), ("tempo (BPM, windows)", s["window_tempo_bpm"]), ("meters", s["meters"])):
        click.echo(f"{title}: " + ", ".join(f"{k} {v}" for k, v in list(hist.items())[:12]))


@library.command()
@db_option
@json_option
def report(db: Path | None, as_json: bool) -> None:
    """Every skipped or capped file with its reason (as `index --report`, without indexing)."""
    lib = _open(db, with_model=False)
    try:
        issues = lib.report()
    finally:
        lib.close()
    if as_json:
        emit_json({"issues": [i.to_dict() for i in issues]})
        return
    _print_issues(issues)


COMMANDS = (index, search, library)
