"""The web page served by the daemon: search, listen, look, drag and play into the DAW (docs/web.md)."""

from __future__ import annotations

from bridge.web.server import WebServer, start_web

__all__ = ["WebServer", "start_web"]
