"""Routes validated requests to handlers and turns every failure into an error reply.

No socket code here: the server hands in (address, args, sender) and sends back what this returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from bridge.daemon.protocol import ERROR_ADDRESS, PREFIX, Protocol, ProtocolError, Reply, Request

log = logging.getLogger(__name__)

HandlerResult = list[Reply] | Awaitable[list[Reply]]
Handler = Callable[[Request], HandlerResult]


@dataclass
class ErrorStats:
    """Counts of every request that got an error reply, by kind (shown in /midibridge/status)."""

    parse: int = 0  # datagrams that are not OSC at all
    unknown_address: int = 0
    bad_arguments: int = 0
    failed: int = 0  # valid requests the daemon could not serve (no such hit, busy, no MIDI, ...)
    internal: int = 0  # bugs: a handler raised something unexpected
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.parse + self.unknown_address + self.bad_arguments + self.failed + self.internal

    def as_dict(self) -> dict[str, int]:
        return {
            "total": self.total,
            "parse": self.parse,
            "unknown_address": self.unknown_address,
            "bad_arguments": self.bad_arguments,
            "failed": self.failed,
            "internal": self.internal,
        }


def error_reply(request_id: int, reason: str, address: str) -> Reply:
    return Reply(ERROR_ADDRESS, (int(request_id), reason[:400], address[:200]))


class Dispatcher:
    def __init__(self, protocol: Protocol, stats: ErrorStats | None = None) -> None:
        self.protocol = protocol
        self.stats = stats or ErrorStats()
        self._handlers: dict[str, Handler] = {}

    def register(self, path: str, handler: Handler) -> None:
        if path not in self.protocol.requests:
            raise KeyError(f"{path} is not in the protocol table")
        self._handlers[path] = handler

    def register_table(self, table: Iterable[tuple[str, Handler]]) -> None:
        for path, handler in table:
            self.register(path, handler)

    def missing(self) -> list[str]:
        return sorted(set(self.protocol.requests) - set(self._handlers))

    def parse_error(self, reason: str) -> list[Reply]:
        self.stats.parse += 1
        return [error_reply(-1, f"not a valid OSC packet: {reason}", "")]

    async def dispatch(self, address: str, args: tuple, sender: tuple[str, int]) -> list[Reply]:
        spec = self.protocol.requests.get(address)
        handler = self._handlers.get(address)
        if spec is None or handler is None:
            self.stats.unknown_address += 1
            rid = args[0] if args and isinstance(args[0], int) and not isinstance(args[0], bool) else -1
            hint = f"addresses start with {PREFIX}/" if not address.startswith(PREFIX + "/") else "see docs/protocol.md"
            return [error_reply(rid, f"unknown address {address[:100]!r} ({hint})", address)]
        try:
            request = spec.parse(tuple(args), sender)
        except ProtocolError as e:
            self.stats.bad_arguments += 1
            return [error_reply(e.request_id, e.reason, address)]
        try:
            result = handler(request)
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                result = await result
            return list(result)
        except ProtocolError as e:
            self.stats.failed += 1
            log.info("request %s %d failed: %s", address, request.id, e.reason)
            return [error_reply(request.id, e.reason, address)]
        except Exception as e:  # a bug must cost one error reply, never the daemon
            self.stats.internal += 1
            log.exception("handler for %s raised", address)
            return [error_reply(request.id, f"internal error: {type(e).__name__}: {e}", address)]
