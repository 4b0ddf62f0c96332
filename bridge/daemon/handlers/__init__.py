"""One handler module per domain; each exposes `table(ctx) -> [(address, handler)]`."""

from __future__ import annotations

from bridge.daemon.context import Context
from bridge.daemon.dispatch import Handler
from bridge.daemon.handlers import capture, clock, live, play, ports, search, system

DOMAINS = (system, search, play, clock, ports, capture, live)


def all_handlers(ctx: Context) -> list[tuple[str, Handler]]:
    out: list[tuple[str, Handler]] = []
    for domain in DOMAINS:
        out.extend(domain.table(ctx))
    return out
