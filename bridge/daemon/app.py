"""Wiring: config -> services -> dispatcher -> OSC server, and an orderly shutdown.

Shutdown (SIGINT/SIGTERM, or `stop()`): stop accepting requests, cancel playback, have the MIDI
writer send a note-off for every sounding note, then close the ports.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Callable

from bridge.daemon.context import Context, DaemonConfig
from bridge.daemon.dispatch import Dispatcher, ErrorStats
from bridge.daemon.handlers import all_handlers
from bridge.daemon.protocol import PROTOCOL
from bridge.daemon.search_service import SearchService
from bridge.daemon.server import OscServer
from bridge.daemon.worker import LibrarySpec
from bridge.midi.engine import MidiEngine
from bridge.midi.ports import MidiIO, open_midi

log = logging.getLogger(__name__)

SWITCH_INTERVAL = 0.0005  # seconds (Python's default is 0.005: a whole JACK period at 256 frames)


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


class Daemon:
    def __init__(self, config: DaemonConfig, midi_io: MidiIO | None = None) -> None:
        self.config = config
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

        stats = ErrorStats()
        spec = LibrarySpec(cfg.db, cfg.model, cfg.model_dir) if cfg.library else None
        search = SearchService(spec, mode=cfg.search_worker, max_pending=cfg.max_pending_searches)
        # The worker starts before the loop turns real-time, so it never inherits SCHED_FIFO.
        library_task = asyncio.ensure_future(search.start())
        await asyncio.sleep(0)
        # A short GIL switch interval: the JACK callback waits at most this long for a busy thread.
        sys.setswitchinterval(SWITCH_INTERVAL)
        if cfg.rt_priority > 0:
            set_realtime(cfg.rt_priority)
        io = self._midi_io or await loop.run_in_executor(
            None, lambda: open_midi(cfg.midi_api, cfg.client_name, cfg.jack_server))
        midi = MidiEngine(io, bpm=cfg.bpm, silence_beats=cfg.silence_beats)
        for port in cfg.connect_in:
            self._try_connect(io, "in", port)
        for port in cfg.connect_out:
            self._try_connect(io, "out", port)

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
