"""What handlers are given: the daemon's services, passed in (no globals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.daemon.dispatch import ErrorStats
from bridge.daemon.protocol import Reply
from bridge.daemon.search_service import SearchService
from bridge.midi.engine import MidiEngine

Outbox = Callable[[list[Reply], tuple[str, int]], None]


@dataclass(frozen=True)
class DaemonConfig:
    host: str = "127.0.0.1"
    port: int = 9000
    reply_port: int = 0  # 0: reply to the sender's port
    db: Path | None = None
    model: bool = True  # load the retrieval model (False: feature ranking only)
    model_dir: Path | None = None
    library: bool = True  # False: serve play/ports/status without opening the library
    midi_api: str = "auto"
    jack_server: str | None = None
    client_name: str = "midibridge"
    bpm: float = 120.0
    silence_beats: float = 4.0  # in the phrase's own beats: 2 cut a 97-note ragtime strain into five pieces
    max_pending_searches: int = 8
    search_worker: str = "process"  # "process" (no GIL contention with the MIDI callback) | "thread"
    rt_priority: int = 0  # >0: SCHED_FIFO for the event loop, so a GIL holder is never preempted by bulk work
    connect_in: tuple[str, ...] = ()
    connect_out: tuple[str, ...] = ()
    play_dirs: tuple[Path, ...] = ()  # folders /midibridge/play/file may read besides the library's (--play-dir)
    generation: bool = True  # start the generation worker (the jam: /midibridge/generate/*)
    generation_model_dir: Path | None = None
    jam_cc_start: int = 20  # CC on "midibridge in" that starts (>= 64) / stops (< 64) a stream
    jam_cc_call: int = 21  # CC that arms (>= 64) / disarms call and response
    role_ports: bool = False  # chords, bass, melody also on ports of their own (JACK)
    latency_ms: float = 0.0  # output latency compensation
    panic_on_start: bool = False  # All Notes Off / All Sound Off on all 16 channels once at start
    web: bool = True  # serve the web page (bridge/web, docs/web.md)
    web_host: str = "127.0.0.1"  # loopback: the page can drive the daemon, so it is not offered to the network
    web_port: int = 9080  # 0: any free port (the URL is logged and in status as web_url)


@dataclass
class Context:
    config: DaemonConfig
    stats: ErrorStats
    search: SearchService
    midi: MidiEngine
    outbox: Outbox
    reply_port: Callable[[tuple[str, int], int, str], None]  # (sender, port, scope "client" | "host")
    started: float  # time.monotonic() at start
    info: dict = field(default_factory=dict)  # counters other parts add to status (datagrams, ...)
    live: Any = None  # bridge.daemon.live.JamSession, when generation is on
