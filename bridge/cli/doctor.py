"""`midibridge doctor`: what works on this machine, and what to install when it doesn't."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from bridge.cli.options import emit_json, json_option


@click.command("doctor")
@click.option("--osc-port", default=9000, show_default=True, envvar="MIDIBRIDGE_PORT",
              help="OSC port to check (the one `serve` will use; also $MIDIBRIDGE_PORT).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the OSC port is checked on.")
@json_option
def doctor(osc_port: int, host: str, as_json: bool) -> None:
    """Check onnxruntime, MIDI APIs, JACK, the OSC port, models and library."""
    from bridge.doctor import run_all

    report = run_all(osc_port, host)
    if as_json:
        emit_json(report)
        return
    table = Table(title=f"midibridge {report['version']} (Python {report['python']})", show_header=False)
    ort = report["onnxruntime"]
    table.add_row("onnxruntime", f"{ort.get('version', 'missing')}: {', '.join(ort.get('providers', []))}")
    for api in report["midi"]["apis"]:
        state = "[green]works[/]" if api["works"] else f"[yellow]{api.get('error', 'unavailable')}[/]"
        table.add_row(f"MIDI {api['display_name']}", state)
    jack = report["jack"]
    jack_state = f"[green]running[/] ({jack['server']})" if jack["running"] else "[yellow]not running[/]"
    table.add_row("JACK server", jack_state)
    osc = report["osc_port"]
    table.add_row(
        f"OSC {osc['host']}:{osc['port']}", "[green]free[/]" if osc["free"] else f"[red]busy[/] ({osc.get('error')})"
    )
    models = report["models"]
    table.add_row("models", f"{len(models['found'])} in {models['dir']}")
    lib = report["library"]
    table.add_row("library index", f"{lib['db']} ({'exists' if lib['db_exists'] else 'not built yet'})")
    table.add_row("bundled library", f"{lib['bundled_files']} files")
    table.add_row("data dir", report["data_dir"])
    Console().print(table)


COMMANDS = (doctor,)
