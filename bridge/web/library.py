"""The library panel's data: stats and the skipped-file report.

The daemon's search worker does not answer stats, so they come from `midibridge library stats --json` and
`library report --json` run as a subprocess at normal priority (the event loop only waits for it), cached
for a short while. Re-indexing goes through the daemon's own index run (SearchService.index, the one behind
`/midibridge/library/index`); a daemon without it gets stats only, and the panel says so.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from typing import Any

from bridge.daemon.search_service import normal_priority

log = logging.getLogger(__name__)

STATS_TTL = 30.0  # seconds a stats answer is reused
TIMEOUT = 120.0
INDEX_MISSING = ("re-indexing from the page needs the daemon's /midibridge/library/index, which this daemon "
                 "does not have yet: run `midibridge index DIR` and restart `midibridge serve`")


async def run_json(*args: str) -> Any:
    """`python -m bridge ARGS` in a subprocess; its stdout as JSON."""
    with normal_priority():  # the child must not inherit the event loop's real-time priority
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bridge", *args, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    except (asyncio.TimeoutError, asyncio.CancelledError):
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"midibridge {' '.join(args)} exited with {proc.returncode}")
    return json.loads(out)


class LibraryPanel:
    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self._cached: tuple[float, dict] | None = None
        self._lock = asyncio.Lock()

    def _db_args(self) -> list[str]:
        db = self.ctx.config.db
        return ["--db", str(db)] if db is not None else []

    async def stats(self, refresh: bool = False) -> dict:
        search = self.ctx.search.status()
        if search["state"] == "not configured":
            return {"state": "not configured", "problem": "the daemon runs with --no-library",
                    "index": self.index_info()}
        async with self._lock:
            if self._cached and not refresh and time.monotonic() - self._cached[0] < STATS_TTL:
                return self._cached[1]
            db = self._db_args()
            stats, report = await asyncio.gather(run_json("library", "stats", "--json", *db),
                                                 run_json("library", "report", "--json", *db),
                                                 return_exceptions=True)
            if isinstance(stats, BaseException):
                raise RuntimeError(f"library stats failed: {stats}") from stats
            issues = [] if isinstance(report, BaseException) else report.get("issues", [])
            out = {"state": search["state"], "problem": search["problem"], "stats": stats, "issues": issues,
                   "issues_problem": str(report) if isinstance(report, BaseException) else "",
                   "windows_served": search["windows"], "models": search["models"], "index": self.index_info()}
            self._cached = (time.monotonic(), out)
            return out

    def forget(self) -> None:
        """The next stats request reads the library again (after an index run)."""
        self._cached = None

    def index_info(self) -> dict:
        available = callable(getattr(self.ctx.search, "index", None))
        return {"available": available, "problem": "" if available else INDEX_MISSING}
