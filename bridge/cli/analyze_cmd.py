"""`midibridge analyze FILE`: key, key changes, tempo, meter, instruments, texture and chords of a MIDI file."""

from __future__ import annotations

from pathlib import Path

import click

from bridge.cli.options import emit_json, json_option, load_midi_or_fail


@click.command("analyze")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--chords/--no-chords", "show_chords", default=True, help="Show the chord list (table only).")
@json_option
def analyze(file: Path, show_chords: bool, as_json: bool) -> None:
    """Describe a MIDI file: key and key changes (from the notes, not the key signature), tempo, meter,
    instruments, chords."""
    from bridge.analysis import analyze_piece

    piece = load_midi_or_fail(file)
    try:
        analysis = analyze_piece(piece)
    except Exception as e:  # an analysis bug on odd input: name the file and the reason, not a traceback
        raise click.ClickException(f"{file}: cannot analyse it: {type(e).__name__}: {e}") from e
    if as_json:
        emit_json({"file": str(file), **analysis.to_dict(), "warnings": list(piece.warnings)})
        return
    _print_table(file, analysis, piece.warnings, show_chords)


def _print_table(file: Path, a, warnings, show_chords: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=str(file), show_header=False)
    table.add_row("key", f"{a.key.name} (confidence {a.key.confidence:.2f})")
    changes = "\n".join(f"bar {c.bar}: {c.before.name} -> {c.after.name}" for c in a.key_changes)
    table.add_row("key changes", changes or "none")
    table.add_row("tempo", f"{a.tempo_bpm:g} BPM ({a.tempo_word})")
    table.add_row("time signature", a.time_signature)
    table.add_row("length", f"{a.bars:g} bars, {a.seconds:.1f} s, {a.note_density:.1f} notes/s")
    table.add_row("pitch range", f"{a.pitch_low}-{a.pitch_high} ({a.register} register)")
    table.add_row("dynamics", f"{a.dynamics} (mean velocity {a.mean_velocity:.0f})")
    table.add_row("texture", a.texture)
    instruments = ", ".join(f"{i.name} ({i.family}, {i.note_count} notes)" for i in a.instruments)
    table.add_row("instruments", instruments or "-")
    table.add_row("progression", " ".join(a.progression[:48]) + (" ..." if len(a.progression) > 48 else ""))
    for w in warnings:
        table.add_row("[yellow]warning[/]", w)
    console = Console()
    console.print(table)
    if show_chords and a.chords:
        chords = Table(title="chords", show_header=True)
        for col in ("beat", "length", "chord", "roman"):
            chords.add_column(col)
        for c in a.chords:
            chords.add_row(f"{c.start:g}", f"{c.duration:g}", c.symbol, c.roman)
        console.print(chords)


COMMANDS = (analyze,)
