"""The daemon's view of the library: every search and file read runs in a worker, behind a bounded queue.

By default the worker is a separate process (spawned): a search's Python work then never holds the GIL
that the JACK process callback needs, which on a loaded 2-core machine is the difference between no xruns
and hundreds. `mode="thread"` keeps it in-process (for platforms where spawning is unwelcome).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from collections import OrderedDict
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.daemon import worker
from bridge.daemon.protocol import ProtocolError
from bridge.music import MidiFileError, Piece

log = logging.getLogger(__name__)

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


def make_executor(mode: str) -> Executor:
    level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
    json_log = any(type(h.formatter).__name__ == "JsonFormatter" for h in logging.getLogger().handlers)
    if mode == "process":
        # spawn, never fork: the daemon has JACK and rtmidi threads that a forked child must not inherit.
        return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=worker.init_worker, initargs=(level, json_log, True))
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="midibridge-search",
                              initializer=worker.init_worker, initargs=(level, json_log, False))


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
        self._executor: Executor | None = None

    async def start(self) -> None:
        """Start the worker; the library opens there while the daemon already answers OSC."""
        self._executor = make_executor(self.mode)
        if self.spec is None:
            return
        t0 = time.perf_counter()
        try:
            info = await asyncio.get_running_loop().run_in_executor(self._executor, worker.open_library, self.spec)
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

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def status(self) -> dict:
        return {"state": self.state, "problem": self.problem, "windows": self.windows, "models": self.model_names,
                "searches": self.searches, "in_flight": self.in_flight}

    def _require_library(self) -> None:
        if self.state != "ready":
            reason = {"loading": "library still loading, try again shortly",
                      "not configured": "no library configured (started with --no-library)"}.get(
                self.state, f"library {self.state}")
            raise ProtocolError(reason + (f": {self.problem}" if self.problem else ""))

    async def _run(self, fn, *args) -> Any:
        if self._executor is None:
            raise ProtocolError("search worker not started")
        if self.in_flight >= self.max_pending:
            raise ProtocolError(f"busy: {self.in_flight} requests pending (at most {self.max_pending})")
        self.in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        finally:
            self.in_flight -= 1

    async def search(self, request_id: int, **query: Any) -> SearchOutcome:
        self._require_library()
        from bridge.library import SearchQuery

        q = SearchQuery(**query)
        t0 = time.perf_counter()
        try:
            hits, self.windows = await self._run(worker.search, q)
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
            return await self._run(worker.load_hit_piece, hit)
        except ProtocolError:
            raise
        except Exception as e:
            raise ProtocolError(f"cannot load hit {getattr(hit, 'file', '?')}: {e}") from e

    async def load_file(self, path: str) -> Piece:
        p = str(Path(path).expanduser())
        try:
            return await self._run(worker.load_file, p)
        except MidiFileError as e:
            raise ProtocolError(f"cannot play {path!r}: {e}") from e

    def library_roots(self) -> list[Path]:
        return list(self._roots)
