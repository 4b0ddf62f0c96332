"""`midibridge index`, `midibridge search` and `midibridge library ...`: a thin layer over bridge.library."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sqlite3
from pathlib import Path

import click

from bridge.cli.options import db_option, emit_json, json_option, load_midi_or_fail

log = logging.getLogger(__name__)


def _open(
    db: Path | None, with_model: bool = True, model_dir: Path | None = None, threads: int = 0, existing: bool = False
):
    """The library at `db`. `existing`: a --db given by the user must already hold an index (a typo in it must
    not create a new folder and quietly answer from the bundled clips); only `index` creates one."""
    from bridge.library import Library, LibraryBusy  # noqa: F401  (import errors surface here, not at CLI load)
    from bridge.library.store import DB_NAME, IndexCorrupt

    if existing and db is not None and not (db / DB_NAME).exists():
        what = "no such folder" if not db.exists() else f"no {DB_NAME} in it"
        raise click.ClickException(
            f"no library index at {db} ({what}): check --db, or create one with `midibridge index DIR --db {db}`"
        )
    encoder = _load_encoder(model_dir, threads) if with_model else None
    try:
        return Library.open(db, encoder=encoder)
    except IndexCorrupt as e:
        raise click.ClickException(str(e)) from e
    except Exception as e:  # a foreign or unreadable index directory: say where and why
        raise click.ClickException(f"cannot open the library index at {db or 'the default location'}: {e}") from e


@contextlib.contextmanager
def _index_errors(lib):
    """A damaged index found while reading or writing it: one line naming the file, never a traceback."""
    from bridge.library.store import DB_NAME, IndexCorrupt, is_corruption

    try:
        yield
    except IndexCorrupt as e:
        raise click.ClickException(str(e)) from e
    except sqlite3.DatabaseError as e:
        path = lib.db_dir / DB_NAME
        detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if isinstance(e, sqlite3.OperationalError) and not is_corruption(e):
            raise click.ClickException(f"cannot use the library index {path}: {detail}") from e
        raise click.ClickException(str(IndexCorrupt(path, detail))) from e


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
    """A rich progress bar on stderr (stdout stays clean for --json) showing files/s, elapsed time and ETA."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
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
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )


class _RichProgress:
    """Adapts the library's progress(stage, done, total) callback to rich tasks. The bar starts at the first
    report, so a run with nothing to do (or one that fails before starting) leaves stderr untouched."""

    def __init__(self):
        self.bar = None
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> _RichProgress:
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = _progress_bar()
            self.bar.start()
        if stage not in self.tasks:
            label, unit = {"analyse": ("analysing", "files"), "ann": ("approximate index", "vectors")}.get(
                stage, ("embedding", "windows"))
            self.tasks[stage] = self.bar.add_task(label, total=total, unit=unit)
        self.bar.update(self.tasks[stage], completed=done, total=total)


def _first_use(lib, quiet: bool) -> None:
    """A library never indexed gets the bundled clips; show the progress unless stdout is JSON."""
    if quiet:
        lib.ensure_indexed()
        return
    with _RichProgress() as progress:
        if lib.ensure_indexed(progress=progress) is not None:
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
        with _index_errors(lib):
            if as_json:
                result = lib.index(list(dirs) or None, workers=workers)
            else:
                with _RichProgress() as progress:
                    result = lib.index(list(dirs) or None, progress=progress, workers=workers)
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
    if not text and like is None:
        raise click.UsageError("give a TEXT query or --like FILE")
    if bars and like is None:
        raise click.UsageError("--bars needs --like")
    # One intra-op thread: one short query gains nothing from two, and a busy second core only adds wait.
    lib = _open(db, model_dir=model_dir, threads=1, existing=True)
    lib.ann_build = "never"  # one query: the approximate index `index` saved, never a build for it
    try:
        with _index_errors(lib):
            result, query, written = _search(lib, text, k, like, bars, key, mode, tempo, meter, instrument, min_bars,
                                             export_dir, as_json)  # fmt: skip
    finally:
        lib.close()
    if as_json:
        out = result.to_dict(query)
        if export_dir:
            out["exported"] = [str(p) for p in written]
        emit_json(out)
        return
    for w in result.warnings:
        if w.startswith(_TEXT_WITH_LIKE):
            click.echo(f"note: {w}", err=True)
    _print_hits(result)
    if export_dir:
        click.echo(f"wrote {len(written)} MIDI files to {export_dir}")


_TEXT_WITH_LIKE = "with --like, TEXT"


def _search(lib, text, k, like, bars, key, mode, tempo, meter, instrument, min_bars, export_dir, as_json):
    from bridge.library import SearchQuery
    from bridge.library.hashing import content_hash
    from bridge.library.windows import span_for_bars
    from bridge.query import parse_bpm_range

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
        notes = []
        if text and like_piece is not None:
            notes.append(_text_with_like_note(text, result.constraints))
        if not result.hits:
            notes.append(_why_no_hits(lib, query, tempo))
        if notes:
            result = dataclasses.replace(result, warnings=(*result.warnings, *notes))
    except ValueError as e:
        raise click.ClickException(str(e)) from e
    written = _export(result.hits, export_dir, lib.load_hit_piece) if export_dir else []
    return result, query, written


def _export(hits, export_dir: Path, load) -> list[Path]:
    from bridge.library.export import export_hits

    try:
        return export_hits(hits, export_dir, load)
    except OSError as e:
        raise click.ClickException(f"cannot write to {export_dir}: {e.strerror or e}") from e


def _text_with_like_note(text: str, constraints: dict) -> str:
    """Query by example ranks by the example alone; only the musical terms of TEXT take part (as constraints)."""
    terms = [constraints.get("key"), constraints.get("meter"), constraints.get("tempo_label")]
    if constraints.get("mode") and not constraints.get("key"):
        terms.append(constraints["mode"])
    if constraints.get("tempo") and not constraints.get("tempo_label"):
        lo, hi = constraints["tempo"]
        terms.append(f"{lo:g}-{hi:g} BPM" if hi is not None else f"{lo:g}+ BPM")
    terms += constraints.get("instruments") or []
    terms = [t for t in terms if t]
    if terms:
        return (
            f"{_TEXT_WITH_LIKE} {text!r} is used for the musical terms it names ({', '.join(terms)}): windows that"
            " satisfy them rank first; its other words do not change the ranking (the example does)"
        )
    return (
        f"{_TEXT_WITH_LIKE} {text!r} was not used: it names no key, mode, meter, tempo or instrument, and the"
        " example alone ranks the hits (search the text without --like to rank by it)"
    )


_FILTER_FIELDS = ("key", "mode", "tempo", "meter", "instrument", "min_bars")


def _why_no_hits(lib, query, tempo_text: str | None) -> str:
    """Which constraint left nothing: an empty library, an option that no window satisfies, or their mix."""
    snap = lib.snapshot()
    if len(snap) == 0:
        return f"no matches: the library at {lib.db_dir} has no indexed windows (run `midibridge index DIR`)"
    active = [f for f in _FILTER_FIELDS if getattr(query, f) is not None]
    blank = dataclasses.replace(query, k=1, text=None, like_piece=None, exclude_file=None, exclude_hash=None,
                                **dict.fromkeys(_FILTER_FIELDS))  # fmt: skip

    def matching(**only) -> int:
        return lib.search_with_info(dataclasses.replace(blank, **only)).windows_searched

    labels = {f: _option_label(f, query, tempo_text) for f in active}
    alone_empty = [f for f in active if matching(**{f: getattr(query, f)}) == 0]
    if alone_empty:
        return "no matches: " + "; ".join(
            f"{labels[f]} excludes all {len(snap)} windows ({_what_there_is(snap, f, query)})" for f in alone_empty
        )
    if query.exclude_file is not None or query.exclude_hash is not None:
        if matching(**{f: getattr(query, f) for f in active}) > 0:
            which = "windows that pass the options are" if active else "indexed windows are"
            return f"no matches: the only {which} from the example file itself"
    if len(active) > 1:
        together = " and ".join(labels[f] for f in active)
        return f"no matches: {together} together exclude every window (each alone leaves some)"
    return "no matches"


def _option_label(field: str, query, tempo_text: str | None) -> str:
    value = getattr(query, field)
    if field == "tempo":
        lo, hi = value
        bpm = f"{lo:g}-{hi:g} BPM"
        return f"--tempo {tempo_text}" + ("" if tempo_text and tempo_text.strip() == f"{lo:g}-{hi:g}" else f" ({bpm})")
    option = "--" + field.replace("_", "-")
    return f"{option} {value!r}" if isinstance(value, str) else f"{option} {value}"


def _what_there_is(snap, field: str, query) -> str:
    """What the library does hold for `field`, so the user can adjust the option."""
    from collections import Counter

    import numpy as np

    if field == "tempo":
        tempi = np.unique(np.round(snap.tempo))
        lo, hi = query.tempo
        below, above = tempi[tempi < lo], tempi[tempi > hi]
        if len(below) and len(above):
            return f"the nearest window tempos are {below.max():.0f} and {above.min():.0f} BPM"
        return f"its windows are {tempi.min():.0f}-{tempi.max():.0f} BPM"
    if field == "min_bars":
        return f"windows are at most {int((snap.end_bar - snap.start_bar).max())} bars long"
    if field == "meter":
        return "meters there: " + ", ".join(m for m, _n in Counter(snap.meters[i] for i in snap.meter).most_common(8))
    if field == "key":
        names = Counter(n for n in snap.key_names if n != "none")
        return "keys there: " + ", ".join(n for n, _c in names.most_common(8))
    if field == "mode":
        return "modes there: " + ", ".join(sorted({n.split()[-1] for n in snap.key_names if n != "none"}) or ["none"])
    if field == "instrument":
        from bridge.library.snapshot import instrument_label

        counts = snap.program_counts()
        top = [instrument_label(int(p)) for p in np.argsort(-counts)[:6] if counts[p] > 0]
        return "instruments there: " + ", ".join(top)
    return "see `midibridge library stats`"


def _print_hits(result) -> None:
    if not result.hits:
        click.echo(next((w for w in result.warnings if w.startswith("no matches")), "no matches"))
        return
    rows = [
        [
            str(i),
            Path(h.file).name,  # the full path is in --json; a cell of paths is unreadable
            f"{h.window_start_bar}-{h.window_end_bar}",
            f"{h.start_seconds:.0f}-{h.end_seconds:.0f}",
            f"{h.score:.3f}",
            h.key,
            f"{h.tempo:.0f}",
            h.meter,
            ", ".join(h.instruments),
        ]
        for i, h in enumerate(result.hits, start=1)
    ]
    headers = ["#", "file", "bars", "time (s)", "score", "key", "BPM", "meter", "instruments"]
    for line in format_table(headers, rows, terminal_width()):
        click.echo(line)
    click.echo(f"ranking: {result.ranking}")


def terminal_width() -> int:
    import shutil

    return max(40, shutil.get_terminal_size((80, 24)).columns)


def format_table(headers: list[str], rows: list[list[str]], width: int, gap: int = 2) -> list[str]:
    """Plain aligned columns that fit `width` with the file names whole.

    What gives way first: the last column (a list, also in --json) is cut with "…" down to 10 characters,
    then the "time (s)" column and then the last column are left out, and only then does the file column
    fold onto continuation lines.
    """
    rows = [list(r) for r in rows]
    headers = list(headers)

    def widths_of() -> list[int]:
        return [max(len(headers[c]), *(len(r[c]) for r in rows)) for c in range(len(headers))]

    def drop(name: str) -> None:
        c = headers.index(name)
        del headers[c]
        for r in rows:
            del r[c]

    widths = widths_of()
    last_name = headers[-1]
    for step in ("cut", "time (s)", last_name):
        over = sum(widths) + gap * (len(headers) - 1) - width
        if over <= 0:
            break
        if step == "cut":
            widths[-1] -= min(over, max(0, widths[-1] - 10))
        elif step in headers and len(headers) > 2:
            cut_last = widths[-1] if headers[-1] == last_name else None
            drop(step)
            widths = widths_of()
            if cut_last is not None and headers[-1] == last_name:
                widths[-1] = min(widths[-1], cut_last)
    n = len(headers)
    file_col = headers.index("file")
    over = sum(widths) + gap * (n - 1) - width
    if over > 0:
        widths[file_col] = max(16, widths[file_col] - over)
    last = n - 1

    def cell(text: str, w: int, c: int) -> str:
        if c == last and len(text) > w:
            text = text[: max(0, w - 1)] + "…"
        return text.ljust(w)

    out = []
    for r in [headers, *rows]:
        fw = widths[file_col]
        chunks = [r[file_col][i : i + fw] for i in range(0, len(r[file_col]), fw)] or [""]
        sep = " " * gap
        out.append(sep.join(cell(chunks[0] if c == file_col else r[c], widths[c], c) for c in range(n)).rstrip())
        for more in chunks[1:]:
            out.append(sep.join(cell(more if c == file_col else "", widths[c], c) for c in range(n)).rstrip())
        if r is headers:
            out.append("-" * min(width, sum(widths) + gap * (n - 1)))
    return out


@click.group()
def library() -> None:
    """Inspect the library index (stats, skipped files)."""


@library.command()
@db_option
@json_option
def stats(db: Path | None, as_json: bool) -> None:
    """Files, windows, skipped files, and key/tempo/meter/instrument histograms."""
    lib = _open(db, with_model=False, existing=True)
    try:
        with _index_errors(lib):
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
    click.echo(f"search: {s['search']}")
    for title, hist in (
        ("keys", s["keys"]),
        ("tempo (BPM, windows)", s["window_tempo_bpm"]),
        ("meters", s["meters"]),
        ("instruments (windows)", s["instruments"]),
    ):
        click.echo(f"{title}: " + (", ".join(f"{k} {v}" for k, v in list(hist.items())[:12]) or "-"))


@library.command()
@db_option
@json_option
def report(db: Path | None, as_json: bool) -> None:
    """Every skipped or capped file with its reason (as `index --report`, without indexing)."""
    lib = _open(db, with_model=False, existing=True)
    try:
        with _index_errors(lib):
            issues = lib.report()
    finally:
        lib.close()
    if as_json:
        emit_json({"issues": [i.to_dict() for i in issues]})
        return
    _print_issues(issues)


COMMANDS = (index, search, library)
