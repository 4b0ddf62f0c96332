"""What handlers are given: the daemon's services, passed in (no globals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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
    silence_beats: float = 2.0
    max_pending_searches: int = 8
    search_worker: str = "process"  # "process" (no GIL contention with the MIDI callback) | "thread"
    rt_priority: int = 0  # >0: SCHED_FIFO for the event loop, so a GIL holder is never preempted by bulk work
    connect_in: tuple[str, ...] = ()
    connect_out: tuple[str, ...] = ()


@dataclass
class Context:
    config: DaemonConfig
    stats: ErrorStats
    search: SearchService
    midi: MidiEngine
    outbox: Outbox
    reply_port: Callable[[int], None]
    started: float  # time.monotonic() at start
    info: dict = field(default_factory=dict)  # counters other parts add to status (datagrams, ...)
