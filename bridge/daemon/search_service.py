"""The daemon's view of the library: every search and file read runs in a worker, behind a bounded queue.

By default the worker is a separate process (spawned): a search's Python work then never holds the GIL
that the JACK process callback needs, which on a loaded 2-core machine is the difference between no xruns
and hundreds. The event loop talks to it over a pipe directly (no executor threads in between: each
thread hop costs a scheduler wake-up, milliseconds on a loaded machine). `mode="thread"` keeps it
in-process (for platforms where spawning is unwelcome).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import os
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.daemon import worker
from bridge.daemon.protocol import ProtocolError
from bridge.music import Piece

log = logging.getLogger(__name__)

MAX_RESTARTS = 5  # a worker that keeps dying is reported, not respawned forever
RESTART_DELAY = 1.0  # seconds, times the restart count

FILTER_KEYS = ("key", "mode", "tempo", "meter", "instrument", "min_bars")


@dataclass(frozen=True)
class SearchOutcome:
    hits: list[Any]  # bridge.library.Hit
    milliseconds: float


def parse_filters(filters: tuple[str, ...]) -> dict[str, Any]:
    """'key=A minor', 'tempo=80-120', 'meter=3/4', 'min_bars=4' -> SearchQuery keyword arguments."""
    out: dict[str, Any] = {}
    for f in filters:
        name, sep, value = f.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or name not in FILTER_KEYS or not value:
            raise ProtocolError(f"filter must be key=value with key one of {', '.join(FILTER_KEYS)}, got {f[:60]!r}")
        if name == "mode":
            if value not in ("major", "minor"):
                raise ProtocolError(f"mode must be one of major, minor, got {value!r}")
            out["mode"] = value
        elif name == "tempo":
            lo, dash, hi = value.partition("-")
            try:
                rng = (float(lo), float(hi) if dash else float(lo))
            except ValueError:
                raise ProtocolError(f"tempo must be lo-hi in BPM (e.g. 80-120), got {value!r}") from None
            if not (1 <= rng[0] <= rng[1] <= 999):
                raise ProtocolError(f"tempo must be lo-hi with 1 <= lo <= hi <= 999, got {value!r}")
            out["tempo"] = rng
        elif name == "min_bars":
            if not value.isdigit() or not 1 <= int(value) <= 1000:
                raise ProtocolError(f"min_bars must be an int in 1..1000, got {value!r}")
            out["min_bars"] = int(value)
        elif name == "meter":
            num, slash, den = value.partition("/")
            if not (slash and num.isdigit() and den.isdigit()):
                raise ProtocolError(f"meter must look like 3/4, got {value!r}")
            out["meter"] = value
        else:
            out[name] = value
    return out


class WorkerError(Exception):
    """A request failed inside the worker; `kind` is the exception's type name there."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


class ProcessWorker:
    """One spawned worker process and a pipe: the event loop writes requests and reads answers itself
    (add_reader on the pipe), one at a time, so no helper thread sits between them."""

    def __init__(self, log_level: str, json_log: bool, on_death: Callable[[str], None] | None = None,
                 target: Callable = worker.serve, name: str = "midibridge-search") -> None:
        # spawn, never fork: the daemon has JACK and rtmidi threads that a forked child must not inherit.
        # `target` is the worker's main loop (a top-level function, so it pickles): the search worker's
        # by default, the generation worker's for live jams.
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe(duplex=True)
        self.name = name
        self.process = ctx.Process(target=target, args=(child, log_level, json_log), name=name, daemon=True)
        with normal_priority():  # the child must not start life at the event loop's real-time priority
            self.process.start()
        child.close()
        self._on_death = on_death
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._conn.fileno(), self._readable)
        self._queue: deque[tuple[int, str, tuple, asyncio.Future]] = deque()
        self._current: tuple[int, asyncio.Future] | None = None
        self._numbers = itertools.count()
        self.dead = ""

    async def call(self, name: str, *args: Any) -> Any:
        if self.dead:
            raise WorkerError("WorkerDied", self.dead)
        future = self._loop.create_future()
        self._queue.append((next(self._numbers), name, args, future))
        self._send_next()
        return await future

    def _send_next(self) -> None:
        while self._current is None and self._queue:
            number, name, args, future = self._queue.popleft()
            if future.cancelled():
                continue
            try:
                self._conn.send((number, name, args))
            except Exception as e:  # unpicklable arguments, or the worker is gone
                future.set_exception(WorkerError(type(e).__name__, str(e)))
                continue
            self._current = (number, future)

    def _readable(self) -> None:
        try:
            number, ok, result = self._conn.recv()
        except (EOFError, OSError) as e:
            self._died(f"{self.name} worker exited ({e or 'EOF'})")
            return
        if self._current is not None and self._current[0] == number:
            future = self._current[1]
            self._current = None
            if not future.done():
                if ok:
                    future.set_result(result)
                else:
                    future.set_exception(WorkerError(*result))
        self._send_next()

    def _died(self, reason: str) -> None:
        self.dead = reason
        log.error("%s", reason)
        self._loop.remove_reader(self._conn.fileno())
        pending = [self._current[1]] if self._current else []
        pending += [f for *_, f in self._queue]
        self._current = None
        self._queue.clear()
        for future in pending:
            if not future.done():
                future.set_exception(WorkerError("WorkerDied", reason))
        if self._on_death is not None:
            self._on_death(reason)

    def close(self) -> None:
        if not self.dead:
            self._loop.remove_reader(self._conn.fileno())
        self._conn.close()
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.terminate()


@contextlib.contextmanager
def normal_priority():
    """SCHED_OTHER for the calling thread while the block runs, then the policy it had (Linux)."""
    try:
        policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
    except (AttributeError, OSError):
        yield
        return
    changed = policy != os.SCHED_OTHER
    if changed:
        try:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        except OSError:
            changed = False
    try:
        yield
    finally:
        if changed:
            os.sched_setscheduler(0, policy, param)


class ThreadWorker:
    """The same calls in a thread of the daemon (for platforms where spawning a process is unwelcome)."""

    def __init__(self, log_level: str, json_log: bool, on_death: Callable[[str], None] | None = None) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="midibridge-search",
                                            initializer=worker.init_worker, initargs=(log_level, json_log, False))
        self.dead = ""

    async def call(self, name: str, *args: Any) -> Any:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, worker.FUNCTIONS[name], *args)
        except Exception as e:
            raise WorkerError(type(e).__name__, str(e)) from e

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class SearchService:
    def __init__(self, spec: worker.LibrarySpec | None, mode: str = "process", max_pending: int = 8,
                 remember: int = 128) -> None:
        self.spec = spec
        self.mode = mode
        self.state = "not configured" if spec is None else "loading"
        self.problem = ""
        self.max_pending = max_pending
        self.in_flight = 0
        self.searches = 0
        self.windows = 0
        self.model_names: list[str] = []
        self._roots: list[Path] = []
        self._results: OrderedDict[int, list[Any]] = OrderedDict()
        self._remember = remember
        self._worker: ProcessWorker | ThreadWorker | None = None
        self.restarts = 0
        self._restart_task: asyncio.Task | None = None

    async def start(self) -> None:
        """Start the worker; the library opens there while the daemon already answers OSC."""
        root = logging.getLogger()
        level = logging.getLevelName(root.getEffectiveLevel())
        json_log = any(type(h.formatter).__name__ == "JsonFormatter" for h in root.handlers)
        self._worker = (ProcessWorker if self.mode == "process" else ThreadWorker)(level, json_log,
                                                                                   self._worker_died)
        if self.spec is None:
            return
        t0 = time.perf_counter()
        try:
            info = await self._worker.call("open_library", self.spec)
        except Exception as e:
            self.state = "unavailable"
            self.problem = f"{type(e).__name__}: {e}"
            log.error("library unavailable: %s", self.problem)
            return
        self.windows = info["windows"]
        self.model_names = info["models"]
        self._roots = [Path(r) for r in info.get("roots", [])]
        self.state = "ready"
        log.info("library ready in %.2f s (%s worker): %d windows, model %s", time.perf_counter() - t0,
                 self.mode, self.windows, ",".join(self.model_names))

    def _worker_died(self, reason: str) -> None:
        """A crashed worker (out of memory, a native crash in a model) is replaced; searches fail meanwhile."""
        self.state, self.problem = "loading" if self.spec else self.state, f"restarting after: {reason}"
        if self.restarts >= MAX_RESTARTS:
            self.state, self.problem = "unavailable", f"{reason} ({self.restarts} restarts, giving up)"
            return
        self.restarts += 1
        self._restart_task = asyncio.ensure_future(self._restart(RESTART_DELAY * self.restarts))

    async def _restart(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if self._worker is not None:
            self._worker.close()
        log.warning("restarting the search worker (restart %d)", self.restarts)
        await self.start()

    def close(self) -> None:
        if self._restart_task is not None:
            self._restart_task.cancel()
        if self._worker is not None:
            self._worker.close()

    def status(self) -> dict:
        return {"state": self.state, "problem": self.problem, "windows": self.windows, "models": self.model_names,
                "searches": self.searches, "in_flight": self.in_flight, "restarts": self.restarts}

    def _require_library(self) -> None:
        if self.state != "ready":
            reason = {"loading": "library still loading, try again shortly",
                      "not configured": "no library configured (started with --no-library)"}.get(
                self.state, f"library {self.state}")
            raise ProtocolError(reason + (f": {self.problem}" if self.problem else ""))

    async def _run(self, name: str, *args) -> Any:
        if self._worker is None:
            raise ProtocolError("search worker not started")
        if self.in_flight >= self.max_pending:
            raise ProtocolError(f"busy: {self.in_flight} requests pending (at most {self.max_pending})")
        self.in_flight += 1
        try:
            return await self._worker.call(name, *args)
        finally:
            self.in_flight -= 1

    async def search(self, request_id: int, **query: Any) -> SearchOutcome:
        self._require_library()
        from bridge.library import SearchQuery

        q = SearchQuery(**query)
        t0 = time.perf_counter()
        try:
            hits, self.windows = await self._run("search", q)
        except ProtocolError:
            raise
        except Exception as e:
            log.exception("search failed")
            raise ProtocolError(f"search failed: {type(e).__name__}: {e}") from e
        self.searches += 1
        self.remember(request_id, hits)
        return SearchOutcome(list(hits), (time.perf_counter() - t0) * 1000.0)

    def remember(self, request_id: int, hits: list[Any]) -> None:
        self._results[request_id] = hits
        self._results.move_to_end(request_id)
        while len(self._results) > self._remember:
            self._results.popitem(last=False)

    def hit(self, search_id: int, rank: int) -> Any:
        hits = self._results.get(search_id)
        if hits is None:
            raise ProtocolError(f"no search with id {search_id} (the last {self._remember} are kept)")
        if not 0 <= rank < len(hits):
            raise ProtocolError(f"rank must be an int in 0..{len(hits) - 1} for search {search_id}, got {rank}")
        return hits[rank]

    async def load_hit_piece(self, hit: Any) -> Piece:
        self._require_library()
        try:
            return await self._run("load_hit_piece", hit)
        except ProtocolError:
            raise
        except Exception as e:
            raise ProtocolError(f"cannot load hit {getattr(hit, 'file', '?')}: {e}") from e

    async def load_file(self, path: str) -> Piece:
        p = str(Path(path).expanduser())
        try:
            return await self._run("load_file", p)
        except WorkerError as e:
            raise ProtocolError(f"cannot play {path!r}: {e.message if e.kind == 'MidiFileError' else e}") from e

    def library_roots(self) -> list[Path]:
        return list(self._roots)
