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
        search = SearchService(spec, mode=cfg.search_worker, max_pending=cfg.max_pending_searches,
                               extra_roots=tuple(cfg.play_dirs))
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

        # Per client: /midibridge/reply_port moves the replies of its sender only. `info` is the server's live
        # counters (datagrams, replies_sent, send_errors, ...), shown by /midibridge/status.
        ctx = Context(config=cfg, stats=stats, search=search, midi=midi, outbox=server.send,
                      reply_port=server.set_reply_port, started=time.monotonic(), info=server.counters)
        self.ctx = ctx
        generation = self._start_generation(ctx, midi)
        server.dispatcher.register_table(all_handlers(ctx))
        missing = server.dispatcher.missing()
        if missing:  # a protocol address without a handler is a bug caught at startup, not at runtime
            raise RuntimeError(f"no handler for {missing}")

        midi.start()
        if cfg.panic_on_start:
            midi.panic(every_channel=True)  # notes a killed earlier daemon left sounding
        if ctx.live is not None:
            ctx.live.start_loop()
        try:
            self.address = await server.start(cfg.host, cfg.port)
        except OSError as e:
            await midi.shutdown()
            search.close()
            if generation is not None:
                generation.close()
            raise RuntimeError(f"cannot listen on {cfg.host}:{cfg.port}: {e.strerror or e}") from e
        web = await self._start_web(ctx)
        log.info("ready: OSC on %s:%d, MIDI %s, %.2f s", *self.address, io.backend, time.perf_counter() - t0)
        if on_ready:
            on_ready(self)
        try:
            await self._stop.wait()
        finally:
            log.info("shutting down")
            server.close()
            if web is not None:
                await web.close()
            library_task.cancel()
            if ctx.live is not None:
                await ctx.live.close()
            await midi.shutdown()
            search.close()
            if generation is not None:
                generation.close()
            log.info("stopped: %d notes left sounding, %d error replies served", len(io.tracker), stats.total)

    @staticmethod
    def _start_generation(ctx: Context, midi: MidiEngine):
        """The generation worker and the jam session (None with generation off)."""
        cfg = ctx.config
        midi.scheduler.latency_ms = cfg.latency_ms
        if not cfg.generation:
            return None
        from bridge.daemon.generation_service import GenerationService
        from bridge.daemon.live import JamSession

        model_dir = str(cfg.generation_model_dir) if cfg.generation_model_dir else None
        service = GenerationService(model_dir, mode=cfg.search_worker)
        asyncio.ensure_future(service.start())
        ctx.live = JamSession(midi, service.call, ctx.outbox, cfg.jam_cc_start, cfg.jam_cc_call, cfg.role_ports)
        ctx.live.service = service
        return service

    @staticmethod
    async def _start_web(ctx: Context):
        """The web page (bridge/web) beside the OSC server, in this loop; None when off or unavailable."""
        if not ctx.config.web:
            return None
        from bridge.web import start_web

        return await start_web(ctx)

    def _on_signal(self, sig: signal.Signals) -> None:
        log.info("received %s", signal.Signals(sig).name)
        self._stop.set()

    @staticmethod
    def _try_connect(io: MidiIO, direction: str, port: str) -> None:
        try:
            io.connect(direction, port)
        except Exception as e:  # a missing port at startup is reported, not fatal
            log.warning("cannot connect %s to %r: %s", direction, port, e)
