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
from bridge.daemon.dispatch import BAD_ARGUMENTS, BUSY
from bridge.daemon.protocol import MAX_TEXT, ProtocolError
from bridge.midi.events import TimedEvent
from bridge.music import Piece

log = logging.getLogger(__name__)

RESTART_DELAY = 1.0  # seconds before replacing a dead worker; doubled for each death before it was ready again
RESTART_MAX_DELAY = 30.0  # ...up to this: a worker is always replaced, however often it dies
LOAD_WAIT = 10.0  # seconds a request waits for the library to finish loading before `library still loading`
BUILD_POLL = 5.0  # seconds between asking the worker whether its approximate index is built (status `search`)

FILTER_KEYS = ("key", "mode", "tempo", "meter", "instrument", "min_bars")


@dataclass(frozen=True)
class SearchOutcome:
    hits: list[Any]  # bridge.library.Hit
    milliseconds: float


def _bad(reason: str) -> ProtocolError:
    return ProtocolError(reason, kind=BAD_ARGUMENTS)


def parse_filters(filters: tuple[str, ...]) -> dict[str, Any]:
    """'key=A minor', 'tempo=80-120', 'meter=3/4', 'min_bars=4' -> SearchQuery keyword arguments.

    Every value is checked here, through the parsers the library uses (bridge.query), so a bad one is a
    bad argument answered at once (`key must be ...`), never a failed search in the worker."""
    from bridge.query import parse_instrument, parse_key, parse_meter

    out: dict[str, Any] = {}
    for f in filters:
        name, sep, value = f.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or name not in FILTER_KEYS or not value:
            raise _bad(f"filter must be key=value with key one of {', '.join(FILTER_KEYS)}, got {f[:60]!r}")
        if name == "mode":
            if value not in ("major", "minor"):
                raise _bad(f"mode must be one of major, minor, got {value[:40]!r}")
            out["mode"] = value
        elif name == "tempo":
            lo, dash, hi = value.partition("-")
            try:
                rng = (float(lo), float(hi) if dash else float(lo))
            except ValueError:
                raise _bad(f"tempo must be lo-hi in BPM (e.g. 80-120), got {value[:40]!r}") from None
            if not (1 <= rng[0] <= rng[1] <= 999):
                raise _bad(f"tempo must be lo-hi with 1 <= lo <= hi <= 999, got {value[:40]!r}")
            out["tempo"] = rng
        elif name == "min_bars":
            if not value.isdigit() or not 1 <= int(value) <= 1000:
                raise _bad(f"min_bars must be an int in 1..1000, got {value[:40]!r}")
            out["min_bars"] = int(value)
        elif name == "meter":
            num, slash, den = value.partition("/")
            if not (slash and num.isdigit() and den.isdigit()):
                raise _bad(f"meter must look like 3/4, got {value[:40]!r}")
            try:
                parse_meter(value)
            except ValueError as e:
                raise _bad(f"meter: {e}") from None
            out["meter"] = value
        else:
            parse = parse_key if name == "key" else parse_instrument
            try:
                parse(value)
            except ValueError as e:
                raise _bad(f"{name}: {e}") from None
            out[name] = value
    return out


def join_text(text: str, words: tuple[str, ...], limit: int = MAX_TEXT) -> str:
    """The text of a search and the extra words Max/Pd split it into, joined; the length limit applies
    to the whole (each part alone being short is not enough)."""
    joined = " ".join([text, *words]).strip()
    if len(joined) > limit:
        raise _bad(f"text must be at most {limit} characters with its extra words joined, got {len(joined)}")
    return joined


class WorkerError(Exception):
    """A request failed inside the worker; `kind` is the exception's type name there."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


class ProcessWorker:
    """One spawned worker process and a pipe: the event loop writes requests and reads answers itself
    (add_reader on the pipe), one at a time, so no helper thread sits between them.

    A worker function may send progress before its answer (`worker.progress(...)`): the message
    (number, None, payload) goes to the `progress` callback given to `call`. A dead worker is reaped
    (waited for), so it never lingers as a zombie."""

    REAP_INTERVAL = 0.1  # seconds between checks that a dead worker's process has exited
    REAP_PATIENCE = 5.0  # ...after which it is killed

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
        self._queue: deque[tuple[int, str, tuple, asyncio.Future, Callable | None]] = deque()
        self._current: tuple[int, asyncio.Future, Callable | None] | None = None
        self._numbers = itertools.count()
        self._reading = True
        self.dead = ""

    async def call(self, name: str, *args: Any, progress: Callable[[Any], None] | None = None) -> Any:
        if self.dead:
            raise WorkerError("WorkerDied", self.dead)
        future = self._loop.create_future()
        self._queue.append((next(self._numbers), name, args, future, progress))
        self._send_next()
        return await future

    def _send_next(self) -> None:
        while self._current is None and self._queue:
            number, name, args, future, progress = self._queue.popleft()
            if future.cancelled():
                continue
            try:
                self._conn.send((number, name, args))
            except Exception as e:  # unpicklable arguments, or the worker is gone
                future.set_exception(WorkerError(type(e).__name__, str(e)))
                continue
            self._current = (number, future, progress)

    def _readable(self) -> None:
        try:
            number, ok, result = self._conn.recv()
        except (EOFError, OSError) as e:
            self._died(f"{self.name} worker exited ({e or 'EOF'})")
            return
        current = self._current
        if current is None or current[0] != number:
            self._send_next()
            return
        if ok is None:  # progress of the current request, its answer still to come
            if current[2] is not None:
                try:
                    current[2](result)
                except Exception:
                    log.exception("progress callback failed")
            return
        future = current[1]
        self._current = None
        if not future.done():
            if ok:
                future.set_result(result)
            else:
                future.set_exception(WorkerError(*result))
        self._send_next()

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            try:
                self._loop.remove_reader(self._conn.fileno())
            except (OSError, ValueError):
                pass

    def _died(self, reason: str) -> None:
        self.dead = reason
        log.error("%s", reason)
        self._stop_reading()
        pending = [self._current[1]] if self._current else []
        pending += [f for _, _, _, f, _ in self._queue]
        self._current = None
        self._queue.clear()
        for future in pending:
            if not future.done():
                future.set_exception(WorkerError("WorkerDied", reason))
        self._reap(self._loop.time() + self.REAP_PATIENCE)
        if self._on_death is not None:
            self._on_death(reason)

    def _reap(self, deadline: float) -> None:
        """Wait for the dead worker's process without blocking the loop (is_alive() reaps an exited child)."""
        if not self.process.is_alive():
            self.process.join(0)
            return
        if self._loop.time() > deadline:
            self.process.kill()
        self._loop.call_later(self.REAP_INTERVAL, self._reap, deadline)

    def close(self) -> None:
        self._stop_reading()
        try:
            self._conn.close()  # the worker sees EOF and returns
        except OSError:
            pass
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=1)


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

    def __init__(self, log_level: str, json_log: bool, on_death: Callable[[str], None] | None = None,
                 name: str = "midibridge-search") -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name,
                                            initializer=worker.init_worker, initargs=(log_level, json_log, False))
        self.dead = ""

    async def call(self, name: str, *args: Any, progress: Callable[[Any], None] | None = None) -> Any:
        loop = asyncio.get_running_loop()
        function = worker.FUNCTIONS[name]

        def run() -> Any:
            worker.set_progress(None if progress is None else lambda p: loop.call_soon_threadsafe(progress, p))
            try:
                return function(*args)
            finally:
                worker.set_progress(None)

        try:
            return await loop.run_in_executor(self._executor, run)
        except Exception as e:
            raise WorkerError(type(e).__name__, str(e)) from e

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class Clip:
    """A clip's events, prepared in the worker (`worker.clip_events`), rebuilt here in slices."""

    events: list[TimedEvent]
    notes: int


class SearchService:
    def __init__(self, spec: worker.LibrarySpec | None, mode: str = "process", max_pending: int = 8,
                 remember: int = 128, extra_roots: tuple[Path, ...] = ()) -> None:
        self.spec = spec
        self.mode = mode
        self.state = "not configured" if spec is None else "loading"
        self.problem = ""
        self.max_pending = max_pending
        self.in_flight = 0
        self.searches = 0
        self.windows = 0
        self.model_names: list[str] = []
        self.search_mode = "exact"  # the worker's library: "exact" or "approximate (faiss, N unique vectors)"
        self._roots: list[Path] = []
        # Folders play/file may read besides the library's: the clips shipped with the package, and the
        # operator's own (DaemonConfig.play_dirs).
        from bridge import paths

        self.extra_roots = [paths.bundled_library_dir(), paths.bundled_library_dir().parent / "examples",
                            *extra_roots]
        self._results: OrderedDict[int, list[Any]] = OrderedDict()
        self._remember = remember
        self._worker: ProcessWorker | ThreadWorker | None = None
        self.restarts = 0
        self._failures = 0  # deaths since the worker was last ready (the backoff grows with these)
        self._restart_task: asyncio.Task | None = None
        self._follow_task: asyncio.Task | None = None  # polls the worker while its approximate index builds
        self._changed: asyncio.Event | None = None
        self._closed = False
        self.indexing: dict[str, Any] | None = None  # the /midibridge/library/index run in progress
        self.index_runs = 0

    # ---- state -----------------------------------------------------------------------------------

    def _set_state(self, state: str, problem: str = "") -> None:
        self.state, self.problem = state, problem
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    async def start(self) -> None:
        """Start the worker; the library opens there while the daemon already answers OSC."""
        if self._changed is None:
            self._changed = asyncio.Event()
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
        except WorkerError as e:
            if e.kind == "WorkerDied":
                return  # _worker_died has scheduled the next attempt
            self._set_state("unavailable", f"{e.kind}: {e.message}")
            log.error("library unavailable: %s", self.problem)
            return
        except Exception as e:
            self._set_state("unavailable", f"{type(e).__name__}: {e}")
            log.error("library unavailable: %s", self.problem)
            return
        self._apply_info(info)
        self._failures = 0
        self._set_state("ready")
        log.info("library ready in %.2f s (%s worker): %d windows, model %s", time.perf_counter() - t0,
                 self.mode, self.windows, ",".join(self.model_names))

    def _apply_info(self, info: dict) -> None:
        self.windows = info["windows"]
        self.model_names = info["models"]
        self.search_mode = info.get("search", "exact")
        if "being built" in self.search_mode and self._follow_task is None:
            self._follow_task = asyncio.ensure_future(self._follow_build())
        if "roots" in info:
            self._roots = [Path(r) for r in info["roots"]]

    async def _follow_build(self) -> None:
        """While the worker builds the approximate index in the background, ask it now and then, so that
        `status` says `approximate (...)` once the build is done, searches or not."""
        try:
            while not self._closed and "being built" in self.search_mode:
                await asyncio.sleep(BUILD_POLL)
                if self.state != "ready":
                    continue
                try:
                    info = await self._run("info")
                except Exception as e:  # busy, restarting: ask again at the next poll
                    log.debug("search mode poll: %s", e)
                    continue
                self.windows, self.search_mode = info["windows"], info.get("search", "exact")
        finally:
            self._follow_task = None

    def _worker_died(self, reason: str) -> None:
        """A crashed worker (out of memory, a native crash in a model) is replaced, always: after 1 s, then
        twice as long for each death before it was ready again, at most RESTART_MAX_DELAY. Requests wait
        for it like for a library that is still loading."""
        if self._closed:
            return
        self._failures += 1
        delay = min(RESTART_MAX_DELAY, RESTART_DELAY * 2 ** (self._failures - 1))
        self.restarts += 1
        self._set_state("loading" if self.spec else self.state, f"restarting in {delay:g} s after: {reason}")
        self._restart_task = asyncio.ensure_future(self._restart(delay))

    async def _restart(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if self._worker is not None:
            self._worker.close()
        log.warning("restarting the search worker (restart %d)", self.restarts)
        await self.start()

    def close(self) -> None:
        self._closed = True
        if self._follow_task is not None:
            self._follow_task.cancel()
        if self._restart_task is not None:
            self._restart_task.cancel()
        if self._worker is not None:
            self._worker.close()

    def status(self) -> dict:
        return {"state": self.state, "problem": self.problem, "windows": self.windows, "models": self.model_names,
                "search": self.search_mode,
                "searches": self.searches, "in_flight": self.in_flight, "restarts": self.restarts,
                "indexing": self.indexing is not None, "index_runs": self.index_runs}

    async def wait_ready(self, timeout: float = LOAD_WAIT) -> None:
        """Hold a request while the library loads (or its worker restarts), at most `timeout` seconds; then
        raise what the state says (`library still loading` when it still is)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.state == "loading" and self._changed is not None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                break
        self._require_library()

    def _require_library(self) -> None:
        if self.state != "ready":
            reason = {"loading": f"library still loading (waited {LOAD_WAIT:g} s), try again shortly",
                      "not configured": "no library configured (started with --no-library)"}.get(
                self.state, f"library {self.state}")
            raise ProtocolError(reason + (f": {self.problem}" if self.problem else ""))

    async def _run(self, name: str, *args, progress: Callable[[Any], None] | None = None) -> Any:
        if self._worker is None:
            raise ProtocolError("search worker not started")
        if self.in_flight >= self.max_pending:
            raise ProtocolError(f"busy: {self.in_flight} requests pending (at most {self.max_pending})", kind=BUSY)
        self.in_flight += 1
        try:
            if progress is None:
                return await self._worker.call(name, *args)
            return await self._worker.call(name, *args, progress=progress)
        finally:
            self.in_flight -= 1

    # ---- searching -------------------------------------------------------------------------------

    async def search(self, request_id: int, **query: Any) -> SearchOutcome:
        await self.wait_ready()
        from bridge.library import SearchQuery

        try:
            q = SearchQuery(**query)
        except (TypeError, ValueError) as e:
            raise _bad(str(e)) from None
        t0 = time.perf_counter()
        try:
            hits, self.windows, *mode = await self._run("search", q)
            if mode:  # the worker's current search mode (an approximate index finished building since)
                self.search_mode = mode[0]
        except ProtocolError:
            raise
        except WorkerError as e:
            if e.kind == "ValueError":  # a query the library refuses (a filter value): the caller's to fix
                raise _bad(e.message) from None
            log.error("search failed: %s: %s", e.kind, e.message)
            raise ProtocolError(f"search failed: {e.kind}: {e.message}") from None
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
        await self.wait_ready()
        try:
            return await self._run("load_hit_piece", hit)
        except ProtocolError:
            raise
        except Exception as e:
            raise ProtocolError(f"cannot load hit {getattr(hit, 'file', '?')}: {e}") from e

    async def load_file(self, path: str) -> Piece:
        """Parse a MIDI file in the worker (no boundary check: callers over OSC use `check_path` first)."""
        p = str(Path(path).expanduser())
        try:
            return await self._run("load_file", p)
        except WorkerError as e:
            raise ProtocolError(f"cannot play {path!r}: {e.message if e.kind == 'MidiFileError' else e}") from e

    # ---- clips to play ---------------------------------------------------------------------------

    async def file_clip(self, path: str, max_notes: int, shown: str | None = None) -> Clip:
        """A file's events, prepared in the worker; `path` must have passed `check_path`."""
        try:
            packed = await self._run("file_events", path, max_notes)
        except WorkerError as e:
            raise self._clip_error(e, shown or path) from None
        return await _unpack_clip(packed)

    async def hit_clip(self, hit: Any, max_notes: int) -> Clip:
        await self.wait_ready()
        try:
            packed = await self._run("hit_events", hit, max_notes)
        except WorkerError as e:
            raise self._clip_error(e, str(getattr(hit, "file", "?"))) from None
        return await _unpack_clip(packed)

    @staticmethod
    def _clip_error(e: WorkerError, shown: str) -> ProtocolError:
        if e.kind in ("ClipTooLarge", "MidiFileError"):
            return ProtocolError(f"cannot play {shown!r}: {e.message}")
        if e.kind in ("FileNotFoundError", "IsADirectoryError", "PermissionError"):
            return ProtocolError(f"cannot play {shown!r}: no such MIDI file in the library")
        return ProtocolError(f"cannot play {shown!r}: {e.kind}: {e.message}")

    # ---- the library boundary --------------------------------------------------------------------

    def library_roots(self) -> list[Path]:
        return list(self._roots)

    async def refresh(self) -> None:
        """Windows and folders as the library has them now (a folder indexed while serving)."""
        if self.state != "ready" or self._worker is None:
            return
        try:
            self._apply_info(await self._run("info", True))
        except Exception as e:  # keep what we had; the next refresh may work
            log.info("cannot refresh the library's folders: %s", e)

    async def check_path(self, path: str, purpose: str, library_only: bool = False) -> str:
        """The real path of `path` when it lies inside a folder of the library (or, unless `library_only`,
        a folder of bundled clips or one the operator allowed), else one error that says nothing about
        whether the path exists or what it holds. Symlinks are resolved before the check."""
        if self.spec is not None:
            if self.state == "loading":
                await self.wait_ready()  # the folders are known once the library is open
            elif library_only:
                self._require_library()
        elif library_only:
            self._require_library()
        try:
            real = Path(path).expanduser().resolve()
        except (OSError, RuntimeError, ValueError):
            real = None
        if real is not None and self._inside(real, library_only):
            return str(real)
        await self.refresh()
        if real is not None and self._inside(real, library_only):
            return str(real)
        where = "the library's folders" if library_only else "the library's folders (or the bundled clips)"
        raise ProtocolError(f"{purpose} reads only MIDI files inside {where}; {path[:200]!r} is not one",
                            kind=BAD_ARGUMENTS)

    def _inside(self, real: Path, library_only: bool) -> bool:
        roots = list(self._roots) if library_only else [*self._roots, *self.extra_roots]
        for r in roots:
            try:
                rr = Path(r).expanduser().resolve()
            except (OSError, RuntimeError):
                continue
            if real == rr or rr in real.parents:
                return True
        return False

    # ---- re-indexing -----------------------------------------------------------------------------

    async def index(self, request_id: int, progress: Callable[[Any], None]) -> dict:
        """Re-index every folder of the library in a worker process of its own (searches go on meanwhile),
        then pick up what changed: new files and folders, new roots (from `midibridge index DIR`)."""
        if self.spec is None:
            self._require_library()
        if self.state == "loading":
            await self.wait_ready()
        if self.indexing is not None:
            raise ProtocolError(f"an index run is already in progress (request {self.indexing['request']})",
                                kind=BUSY)
        self.indexing = {"request": request_id}
        root = logging.getLogger()
        level = logging.getLevelName(root.getEffectiveLevel())
        json_log = any(type(h.formatter).__name__ == "JsonFormatter" for h in root.handlers)
        indexer: ProcessWorker | ThreadWorker = (ProcessWorker(level, json_log, name="midibridge-index")
                                                 if self.mode == "process"
                                                 else ThreadWorker(level, json_log, name="midibridge-index"))
        try:
            report = await indexer.call("index_library", self.spec, progress=progress)
        except WorkerError as e:
            raise ProtocolError(f"index failed: {e.message if e.kind == 'LibraryBusy' else e}") from None
        finally:
            self.indexing = None
            indexer.close()
        self.index_runs += 1
        await self.refresh()
        return report


async def _unpack_clip(packed: tuple[bytes, bytes, bytes, bytes, int], slice_events: int = 1024) -> Clip:
    """(beats float64, orders, message lengths, messages, notes) -> TimedEvents, a slice at a time with the
    loop free between slices (a 40,000-event clip never holds it for long)."""
    import numpy as np

    beats_raw, orders, lengths, data, notes = packed
    beats = np.frombuffer(beats_raw, dtype=np.float64).tolist()
    ends = np.cumsum(np.frombuffer(lengths, dtype=np.uint8), dtype=np.int64).tolist()
    events: list[TimedEvent] = []
    for lo in range(0, len(beats), slice_events):
        hi = min(len(beats), lo + slice_events)
        start = ends[lo - 1] if lo else 0
        for i in range(lo, hi):
            end = ends[i]
            events.append(TimedEvent(beats[i], orders[i], data[start:end]))
            start = end
        await asyncio.sleep(0)
    return Clip(events, notes)
