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
