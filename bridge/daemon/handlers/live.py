"""generate/*, clock/sync, latency/set: the jam (filled in by the live session)."""

from __future__ import annotations

from bridge.daemon.context import Context
from bridge.daemon.protocol import ProtocolError, Request
from bridge.daemon.protocol_live import LIVE_REQUESTS


def table(ctx: Context):
    def not_yet(req: Request):
        raise ProtocolError(f"{req.address} is not available yet", req.id)

    return [(a.path, not_yet) for a in LIVE_REQUESTS]
