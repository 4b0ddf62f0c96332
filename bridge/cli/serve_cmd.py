"""`midibridge serve`: the daemon; `midibridge ports`: the MIDI ports it could use."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import click

from bridge.cli.options import db_option, emit_json, json_option

MIDI_APIS = ("auto", "jack", "alsa", "coremidi", "winmm", "rtmidi-jack", "none")


@click.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the OSC server binds to.")
@click.option("--port", default=9000, show_default=True, type=click.IntRange(0, 65535), envvar="MIDIBRIDGE_PORT",
              help="OSC UDP port (also $MIDIBRIDGE_PORT).")
@click.option("--reply-port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="Send replies to this port on the sender's host (0: to the sender's own port).")
@click.option("--midi-api", type=click.Choice(MIDI_APIS), default="auto", show_default=True,
              help="MIDI backend: jack (sample-accurate), alsa/coremidi/winmm (rtmidi), none.")
@click.option("--jack-server", default=None, envvar="JACK_DEFAULT_SERVER", help="JACK server name.")
@click.option("--client-name", default="midibridge", show_default=True, help="MIDI client name of the ports.")
@click.option("--connect-in", multiple=True, help="Connect this existing port to our in port (repeatable).")
@click.option("--connect-out", multiple=True, help="Connect our out port to this existing port (repeatable).")
@click.option("--bpm", default=120.0, show_default=True, type=click.FloatRange(20, 300), help="Internal tempo.")
@click.option("--silence-beats", default=4.0, show_default=True, type=click.FloatRange(0.25, 64),
              help="Beats of silence (in the phrase's own tempo) that end a captured phrase.")
@click.option("--rt-priority", default=0, show_default=True, type=click.IntRange(0, 99),
              help="Run the event loop SCHED_FIFO at this priority (Linux; 0: off). Fewer JACK xruns under load.")
@click.option("--model-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Retrieval model directory (default: the shipped model).")
@click.option("--no-model", is_flag=True, help="Rank by musical features only (no ONNX model).")
@click.option("--search-worker", type=click.Choice(["process", "thread"]), default="process", show_default=True,
              help="Where searches run: a worker process (no GIL contention with MIDI output) or a thread.")
@click.option("--no-library", is_flag=True, help="Serve without opening the library (play and ports only).")
@click.option("--web-port", default=9080, show_default=True, type=click.IntRange(0, 65535),
              help="Port of the web page (search, listen, piano roll, play into the DAW; 0: any free port).")
@click.option("--web-host", default="127.0.0.1", show_default=True,
              help="Address the web page binds to (loopback: anything else offers the daemon to the network).")
@click.option("--no-web", is_flag=True, help="Do not serve the web page.")
@click.option("--play-dir", "play_dirs", multiple=True, type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="A folder /midibridge/play/file may read besides the library's (repeatable).")
@click.option("--no-generation", is_flag=True, help="Do not start the generation worker (no live jam).")
@click.option("--generation-model-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Generation model directory (default: the shipped models).")
@click.option("--latency-ms", default=0.0, show_default=True, type=click.FloatRange(0, 500),
              help="Output latency compensation: MIDI goes out this many ms early (also /midibridge/latency/set).")
@click.option("--role-ports", is_flag=True,
              help="JACK: chords, bass and melody of a jam also on ports of their own (midibridge:chords ...).")
@click.option("--panic-on-start", is_flag=True,
              help="Send All Notes Off / All Sound Off on all 16 channels at start (after a crash).")
@click.option("--jam-cc", "jam_cc", default=(20, 21), show_default=True, type=(click.IntRange(0, 119),
              click.IntRange(0, 119)), help="CCs on the in port that start/stop a stream and arm/disarm a call.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.option("--json-log", is_flag=True, help="Log one JSON object per line on stderr.")
def serve(db: Path | None, host: str, port: int, reply_port: int, midi_api: str, jack_server: str | None,
          client_name: str, connect_in: tuple[str, ...], connect_out: tuple[str, ...], bpm: float,
          silence_beats: float, rt_priority: int, model_dir: Path | None, no_model: bool,
          search_worker: str, no_library: bool, web_port: int, web_host: str, no_web: bool,
          play_dirs: tuple[Path, ...], no_generation: bool,
          generation_model_dir: Path | None, role_ports: bool, latency_ms: float, panic_on_start: bool,
          jam_cc: tuple[int, int],
          log_level: str,
          json_log: bool) -> None:
    """Run the daemon: OSC on HOST:PORT, MIDI ports "midibridge in"/"midibridge out" (see docs/protocol.md)."""
    from bridge.daemon import logs
    from bridge.daemon.app import Daemon
    from bridge.daemon.context import DaemonConfig

    logs.configure(log_level, json_log)
    if jack_server:
        os.environ["JACK_DEFAULT_SERVER"] = jack_server
    config = DaemonConfig(host=host, port=port, reply_port=reply_port, db=db, midi_api=midi_api,
                          jack_server=jack_server, client_name=client_name, bpm=bpm, silence_beats=silence_beats,
                          connect_in=connect_in, connect_out=connect_out,
                          library=not no_library, model=not no_model, model_dir=model_dir,
                          rt_priority=rt_priority, search_worker=search_worker,
                          web=not no_web, web_host=web_host, web_port=web_port,
                          play_dirs=tuple(play_dirs), generation=not no_generation,
                          generation_model_dir=generation_model_dir,
                          role_ports=role_ports, latency_ms=latency_ms, panic_on_start=panic_on_start,
                          jam_cc_start=jam_cc[0],
                          jam_cc_call=jam_cc[1])
    daemon = Daemon(config)
    try:
        asyncio.run(daemon.run())
    except RuntimeError as e:
        raise click.ClickException(str(e)) from None


@click.command()
@json_option
@click.option("--midi-api", type=click.Choice(MIDI_APIS), default="auto", show_default=True)
@click.option("--jack-server", default=None, envvar="JACK_DEFAULT_SERVER", help="JACK server name.")
def ports(as_json: bool, midi_api: str, jack_server: str | None) -> None:
    """List the MIDI ports the daemon would see with this backend."""
    from bridge.midi.ports import open_midi

    io = open_midi(midi_api, "midibridge-ports", jack_server)
    try:
        listing = [{"kind": p.kind, "name": p.name} for p in io.list_ports() if not p.kind.startswith("own")]
        report = {"backend": io.backend, "problem": io.problem, "ports": listing}
    finally:
        io.close()
    if as_json:
        emit_json(report)
        return
    click.echo(f"backend: {report['backend']}" + (f" ({report['problem']})" if report["problem"] else ""))
    for p in listing:
        click.echo(f"  {p['kind']:6} {p['name']}")


COMMANDS = (serve, ports)
