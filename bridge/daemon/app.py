"""Wiring: config -> services -> dispatcher -> OSC server, and an orderly shutdown.

Shutdown (SIGINT/SIGTERM, or `stop()`): stop accepting requests, cancel playback, have the MIDI
writer send a note-off for every sounding note, then close the ports.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bridge.daemon.context import Context, DaemonConfig
from bridge.daemon.dispatch import Dispatcher, ErrorStats
from bridge.daemon.handlers import all_handlers
from bridge.daemon.protocol import PROTOCOL
from bridge.daemon.search_service import SearchService
from bridge.daemon.server import OscServer
from bridge.midi.engine import MidiEngine
from bridge.midi.ports import MidiIO, open_midi

log = logging.getLogger(__name__)


def default_library_opener(config: DaemonConfig) -> Callable[[], Any]:
    """Open the library with the shipped retrieval model when there is one (else feature ranking)."""

    def open_library():
        from bridge import paths
        from bridge.library import Library

        encoder = load_encoder(config.model_dir) if config.model else None
        library = Library.open(config.db or paths.default_db_path(), encoder=encoder)
        # Zero configuration: a library never indexed gets the bundled clips (no-op otherwise).
        library.ensure_indexed()
        return library

    return open_library


def load_encoder(model_dir: Path | None) -> Any:
    from bridge.inference.retrieval import TEXT_CONFIG, default_model_dir

    model_dir = model_dir or default_model_dir()
    if not (model_dir / TEXT_CONFIG).is_file():
        log.warning("no retrieval model at %s: search ranks by musical features", model_dir)
        return None
    from bridge.inference import RetrievalEncoders

    try:
        return RetrievalEncoders.load(model_dir)
    except Exception as e:  # a broken model must not take the daemon down; features still work
        log.warning("cannot load the retrieval model at %s (%s): ranking by features", model_dir, e)
        return None


def set_realtime(priority: int) -> bool:
    """SCHED_FIFO for the calling thread (Linux): the JACK callback waits for the GIL, so whoever holds
    it must not be preempted by the machine's bulk work. Search workers reset themselves to normal."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        log.info("event loop runs SCHED_FIFO %d", priority)
        return True
    except (AttributeError, OSError) as e:
        log.warning("cannot use real-time priority %d: %s", priority, e)
        return False


def normal_priority() -> None:
    """Worker-thread initializer: searches are bulk work and must not run at real-time priority."""
    try:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except (AttributeError, OSError):
        pass


class Daemon:
    def __init__(self, config: DaemonConfig, open_library: Callable[[], Any] | None = None,
                 midi_io: MidiIO | None = None) -> None:
        self.config = config
        if not config.library:
            open_library = None
        elif open_library is None:
            open_library = default_library_opener(config)
        self._open_library = open_library
        self._midi_io = midi_io
        self._stop = asyncio.Event()
        self.address: tuple[str, int] | None = None
        self.ctx: Context | None = None

    def stop(self) -> None:
        self._stop.set()

    async def run(self, on_ready: Callable[[Daemon], None] | None = None) -> None:
        t0 = time.perf_counter()
        cfg = self.config
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
                pass

        if cfg.rt_priority > 0:
            set_realtime(cfg.rt_priority)
        io = self._midi_io or await loop.run_in_executor(
            None, lambda: open_midi(cfg.midi_api, cfg.client_name, cfg.jack_server))
        midi = MidiEngine(io, bpm=cfg.bpm, silence_beats=cfg.silence_beats)
        for port in cfg.connect_in:
            self._try_connect(io, "in", port)
        for port in cfg.connect_out:
            self._try_connect(io, "out", port)

        stats = ErrorStats()
        search = SearchService(self._open_library, max_pending=cfg.max_pending_searches, initializer=normal_priority)
        server = OscServer(Dispatcher(PROTOCOL, stats), reply_port=cfg.reply_port)

        def set_reply_port(port: int) -> None:
            server.reply_port = port

        ctx = Context(config=cfg, stats=stats, search=search, midi=midi, outbox=server.send,
                      reply_port=set_reply_port, started=time.monotonic())
        self.ctx = ctx
        server.dispatcher.register_table(all_handlers(ctx))
        missing = server.dispatcher.missing()
        if missing:  # a protocol address without a handler is a bug caught at startup, not at runtime
            raise RuntimeError(f"no handler for {missing}")

        midi.start()
        library_task = asyncio.ensure_future(search.start())
        try:
            self.address = await server.start(cfg.host, cfg.port)
        except OSError as e:
            await midi.shutdown()
            search.close()
            raise RuntimeError(f"cannot listen on {cfg.host}:{cfg.port}: {e.strerror or e}") from e
        log.info("ready: OSC on %s:%d, MIDI %s, %.2f s", *self.address, io.backend, time.perf_counter() - t0)
        if on_ready:
            on_ready(self)
        try:
            await self._stop.wait()
        finally:
            log.info("shutting down")
            server.close()
            library_task.cancel()
            await midi.shutdown()
            search.close()
            log.info("stopped: %d notes left sounding, %d error replies served", len(io.tracker), stats.total)

    def _on_signal(self, sig: signal.Signals) -> None:
        log.info("received %s", signal.Signals(sig).name)
        self._stop.set()

    @staticmethod
    def _try_connect(io: MidiIO, direction: str, port: str) -> None:
        try:
            io.connect(direction, port)
        except Exception as e:  # a missing port at startup is reported, not fatal
            log.warning("cannot connect %s to %r: %s", direction, port, e)
