"""The daemon's view of the library: searches run off the event loop behind a bounded queue.

The library is injected as a zero-argument opener (tests pass their own; the app passes
`Library.open(db)`), opened once in a worker thread so the daemon answers ping while a model loads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.daemon.protocol import ProtocolError
from bridge.music import MidiFileError, Piece, load_midi

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


class SearchService:
    def __init__(self, open_library: Callable[[], Any] | None, workers: int = 1, max_pending: int = 8,
                 remember: int = 128, initializer: Callable[[], None] | None = None) -> None:
        self._open_library = open_library
        self.library: Any = None
        self.state = "not configured" if open_library is None else "loading"
        self.problem = ""
        self.max_pending = max_pending
        self.in_flight = 0
        self.searches = 0
        # A single worker by default: searches are numpy/onnxruntime work that releases the GIL,
        # and one at a time keeps the JACK callback's GIL waits short on a 2-core machine.
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="midibridge-search",
                                            initializer=initializer)
        self._results: OrderedDict[int, list[Any]] = OrderedDict()
        self.windows = 0
        self._roots: list[Path] = []
        self._remember = remember

    async def start(self) -> None:
        if self._open_library is None:
            return
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        try:
            self.library = await loop.run_in_executor(self._executor, self._open_library)
            # Warm the in-memory snapshot now, so the first search costs what every search costs.
            await loop.run_in_executor(self._executor, self._refresh_info, True)
            self.state = "ready"
            log.info("library ready in %.2f s: %d windows, model %s", time.perf_counter() - t0, self.windows,
                     ",".join(self.models()))
        except Exception as e:
            self.library = None
            self.state = "unavailable"
            self.problem = f"{type(e).__name__}: {e}"
            log.error("library unavailable: %s", self.problem)

    def _refresh_info(self, roots: bool = False) -> None:
        """Worker thread: library size (and roots) read here, so status never touches SQLite on the loop."""
        lib = self.library
        snapshot = getattr(lib, "snapshot", None)
        if callable(snapshot):
            self.windows = len(snapshot())
        if roots and callable(getattr(lib, "stats", None)):
            self._roots = [Path(r) for r in lib.stats().get("roots", [])]

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        close = getattr(self.library, "close", None)
        if callable(close):
            try:
                close()
            except Exception as e:
                log.debug("library close: %s", e)

    def models(self) -> list[str]:
        if self.library is None:
            return []
        encoder = getattr(self.library, "encoder", None)
        return [str(encoder.name)] if encoder is not None else ["features"]

    def status(self) -> dict:
        return {"state": self.state, "problem": self.problem, "windows": self.windows, "models": self.models(),
                "searches": self.searches, "in_flight": self.in_flight}

    def _require(self) -> Any:
        if self.library is None:
            reason = {"loading": "library still loading, try again shortly",
                      "not configured": "no library configured (--db)"}.get(self.state, f"library {self.state}")
            raise ProtocolError(reason + (f": {self.problem}" if self.problem else ""))
        return self.library

    async def _run(self, fn: Callable[[], Any]) -> Any:
        if self.in_flight >= self.max_pending:
            raise ProtocolError(f"busy: {self.in_flight} searches pending (at most {self.max_pending})")
        self.in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn)
        finally:
            self.in_flight -= 1

    async def search(self, request_id: int, **query: Any) -> SearchOutcome:
        lib = self._require()
        from bridge.library import SearchQuery  # runtime import: the library package is optional at startup

        q = SearchQuery(**query)
        t0 = time.perf_counter()

        def work():
            hits = lib.search(q)
            self._refresh_info()
            return hits

        try:
            hits = list(await self._run(work))
        except ProtocolError:
            raise
        except Exception as e:
            log.exception("search failed")
            raise ProtocolError(f"search failed: {type(e).__name__}: {e}") from e
        self.searches += 1
        self.remember(request_id, hits)
        return SearchOutcome(hits, (time.perf_counter() - t0) * 1000.0)

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
        lib = self._require()
        try:
            return await self._run(lambda: lib.load_hit_piece(hit))
        except ProtocolError:
            raise
        except Exception as e:
            raise ProtocolError(f"cannot load hit {getattr(hit, 'file', '?')}: {e}") from e

    async def load_file(self, path: str) -> Piece:
        p = Path(path).expanduser()
        try:
            return await self._run(lambda: load_midi(p))
        except MidiFileError as e:
            raise ProtocolError(f"cannot play {path!r}: {e}") from e

    def library_roots(self) -> list[Path]:
        return list(self._roots)
