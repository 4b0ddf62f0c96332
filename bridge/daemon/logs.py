"""Daemon logging: plain or one JSON object per line (--json-log)."""

from __future__ import annotations

import json
import logging
import sys


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"time": round(record.created, 3), "level": record.levelname, "logger": record.name,
               "message": record.getMessage()}
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out)


class OncePerMessage(logging.Filter):
    """Lets each distinct WARNING-or-lower message through once: a warning repeated by every search
    (e.g. "no retrieval model loaded") says nothing new the second time. Errors always pass."""

    def __init__(self, limit: int = 10_000) -> None:
        super().__init__()
        self.seen: set[tuple[str, str]] = set()
        self.limit = limit

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        key = (record.name, record.getMessage())
        if key in self.seen:
            return False
        if len(self.seen) < self.limit:
            self.seen.add(key)
        return True


def configure(level: str = "INFO", json_lines: bool = False, once: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if once:
        handler.addFilter(OncePerMessage())
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())


class RateLimited:
    """At most `burst` lines per `interval` seconds through `log`; what was held back is summed up in the
    next line that passes ("... and 498 more like it"). For messages a sender can cause at will (junk
    datagrams): each line is bounded by the caller, and their number by this."""

    def __init__(self, logger: logging.Logger, burst: int = 5, interval: float = 10.0,
                 clock=None) -> None:
        import time

        self.log = logger
        self.burst = burst
        self.interval = interval
        self._clock = clock or time.monotonic
        self._window_start = -1e18
        self._in_window = 0
        self.suppressed = 0

    def __call__(self, level: int, msg: str, *args) -> bool:
        now = self._clock()
        if now - self._window_start >= self.interval:
            self._window_start, self._in_window = now, 0
        if self._in_window >= self.burst:
            self.suppressed += 1
            return False
        self._in_window += 1
        if self.suppressed:
            msg += " (and %d more like it before)"
            args = (*args, self.suppressed)
            self.suppressed = 0
        self.log.log(level, msg, *args)
        return True


def preview(data: bytes, limit: int = 48) -> str:
    """A bounded, printable view of untrusted bytes for a log line."""
    shown = repr(bytes(data[:limit]))
    return shown + (f"... ({len(data)} bytes)" if len(data) > limit else "")
