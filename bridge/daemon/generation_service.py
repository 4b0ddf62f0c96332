"""The daemon's side of the generation worker: start it beside the search worker, call it, restart it.

Bars are generated in their own process (never behind a search, never holding the GIL of the MIDI writer);
the worker opens the models while the daemon already serves. A crashed worker is replaced with backoff and
the jam reports it rather than stopping the daemon.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bridge.daemon import generation_worker
from bridge.daemon.protocol import ProtocolError
from bridge.daemon.search_service import ProcessWorker, WorkerError

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0


class ThreadGenerationWorker:
    """The same host in a thread of the daemon (search_worker="thread" platforms)."""

    def __init__(self) -> None:
        self.host = generation_worker.GenerationHost()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="midibridge-generation")
        self.dead = ""

    async def call(self, name: str, *args: Any) -> Any:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, getattr(self.host, name), *args)
        except Exception as e:
            raise WorkerError(type(e).__name__, str(e)) from e

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class GenerationService:
    def __init__(self, model_dir: str | None = None, mode: str = "process") -> None:
        self.model_dir = model_dir
        self.mode = mode
        self.state = "loading"
        self.problem = ""
        self.restarts = 0
        self._worker: ProcessWorker | ThreadGenerationWorker | None = None
        self._ready = asyncio.Event()
        self._restart_task: asyncio.Task | None = None

    async def start(self) -> None:
        root = logging.getLogger()
        level = logging.getLevelName(root.getEffectiveLevel())
        json_log = any(type(h.formatter).__name__ == "JsonFormatter" for h in root.handlers)
        if self.mode == "process":
            self._worker = ProcessWorker(level, json_log, self._died, target=generation_worker.serve,
                                         name="midibridge-generation")
        else:
            self._worker = ThreadGenerationWorker()
        t0 = time.perf_counter()
        try:
            await self._worker.call("open_models", self.model_dir)
        except Exception as e:
            self.state, self.problem = "unavailable", str(e)
            log.error("generation unavailable: %s", e)
            self._ready.set()
            return
        self.state, self.problem = "ready", ""
        self._ready.set()
        log.info("generation models ready in %.2f s (%s worker)", time.perf_counter() - t0, self.mode)

    def _died(self, reason: str) -> None:
        self.state, self.problem = "loading", f"restarting after: {reason}"
        self._ready.clear()
        self.restarts += 1
        delay = min(MAX_BACKOFF, 0.5 * 2 ** min(self.restarts, 8))
        self._restart_task = asyncio.ensure_future(self._restart(delay))

    async def _restart(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if self._worker is not None:
            self._worker.close()
        log.warning("restarting the generation worker (restart %d)", self.restarts)
        await self.start()

    async def call(self, name: str, *args: Any) -> Any:
        """Call the worker; waits (bounded) while it starts; failures become ProtocolErrors."""
        if not self._ready.is_set():
            try:
                await asyncio.wait_for(self._ready.wait(), 15.0)
            except asyncio.TimeoutError:
                raise ProtocolError("generation models still loading, try again shortly") from None
        if self.state != "ready" or self._worker is None:
            raise ProtocolError(f"generation unavailable: {self.problem or self.state}")
        try:
            return await self._worker.call(name, *args)
        except WorkerError as e:
            raise ProtocolError(f"generation failed: {e.message}") from e

    def close(self) -> None:
        if self._restart_task is not None:
            self._restart_task.cancel()
        if self._worker is not None:
            self._worker.close()
