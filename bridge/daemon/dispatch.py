"""Routes validated requests to handlers and turns every failure into an error reply.

No socket code here: the server hands in (address, args, sender) and sends back what this returns.
A handler that answers at once (ping, status, tempo) is answered at once (`begin` returns the replies);
one that awaits (a search) comes back as an awaitable the server runs as a task.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from bridge.daemon.protocol import ERROR_ADDRESS, PREFIX, Protocol, ProtocolError, Reply, Request

log = logging.getLogger(__name__)

HandlerResult = list[Reply] | Awaitable[list[Reply]]
Handler = Callable[[Request], HandlerResult]

BAD_ARGUMENTS = "bad_arguments"  # ProtocolError.kind of a request whose values are wrong (counted as such)
BUSY = "busy"  # ProtocolError.kind of a request refused because the daemon has too much in flight


@dataclass
class ErrorStats:
    """Counts of every request that got an error reply, by kind (shown in /midibridge/status)."""

    parse: int = 0  # datagrams (or bundle elements) that are not OSC at all
    unknown_address: int = 0
    bad_arguments: int = 0  # wrong count, type or range, or a value the daemon cannot use (key=H major)
    busy: int = 0  # valid requests refused because too many are in flight (try again)
    failed: int = 0  # valid requests the daemon could not serve (no such hit, no MIDI, ...)
    internal: int = 0  # bugs: a handler raised something unexpected
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.parse + self.unknown_address + self.bad_arguments + self.busy + self.failed + self.internal

    def as_dict(self) -> dict[str, int]:
        return {
            "total": self.total,
            "parse": self.parse,
            "unknown_address": self.unknown_address,
            "bad_arguments": self.bad_arguments,
            "busy": self.busy,
            "failed": self.failed,
            "internal": self.internal,
        }

    def count(self, kind: str) -> None:
        """Count a ProtocolError a handler raised, by its kind."""
        if kind == BAD_ARGUMENTS:
            self.bad_arguments += 1
        elif kind == BUSY:
            self.busy += 1
        else:
            self.failed += 1


def error_reply(request_id: int, reason: str, address: str) -> Reply:
    return Reply(ERROR_ADDRESS, (int(request_id), reason[:400], address[:200]))


def request_id_of(args: tuple) -> int:
    """The leading int of a message, or -1: the id an error about it carries."""
    return int(args[0]) if args and isinstance(args[0], int) and not isinstance(args[0], bool) else -1


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

    def busy(self, address: str, args: tuple, reason: str) -> list[Reply]:
        """A valid request refused for load: its own id, counted as busy (not as a parse error)."""
        self.stats.busy += 1
        return [error_reply(request_id_of(args), f"busy: {reason}", address)]

    def begin(self, address: str, args: tuple, sender: tuple[str, int]) -> list[Reply] | Awaitable[list[Reply]]:
        """Check the request and call its handler: the replies, or an awaitable of them (not yet started)."""
        spec = self.protocol.requests.get(address)
        handler = self._handlers.get(address)
        if spec is None or handler is None:
            self.stats.unknown_address += 1
            hint = f"addresses start with {PREFIX}/" if not address.startswith(PREFIX + "/") else "see docs/protocol.md"
            return [error_reply(request_id_of(args), f"unknown address {address[:100]!r} ({hint})", address)]
        try:
            request = spec.parse(tuple(args), sender)
        except ProtocolError as e:
            self.stats.bad_arguments += 1
            return [error_reply(e.request_id, e.reason, address)]
        if inspect.iscoroutinefunction(handler):
            return self._finish(request, handler)  # started only when the server runs it (or closed unstarted)
        try:
            result = handler(request)
        except Exception as e:
            return self._failure(request, e)
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            return self._finish(request, lambda _: result)
        return list(result)

    async def _finish(self, request: Request, handler: Handler) -> list[Reply]:
        try:
            return list(await handler(request))  # type: ignore[misc]
        except asyncio.CancelledError:
            raise
        except Exception as e:
            return self._failure(request, e)

    def _failure(self, request: Request, e: Exception) -> list[Reply]:
        if isinstance(e, ProtocolError):
            self.stats.count(e.kind)
            log.info("request %s %d refused: %s", request.address, request.id, e.reason)
            return [error_reply(request.id, e.reason, request.address)]
        # a bug must cost one error reply, never the daemon
        self.stats.internal += 1
        log.error("handler for %s raised", request.address, exc_info=e)
        return [error_reply(request.id, f"internal error: {type(e).__name__}: {e}", request.address)]

    async def dispatch(self, address: str, args: tuple, sender: tuple[str, int]) -> list[Reply]:
        result = self.begin(address, args, sender)
        if isinstance(result, list):
            return result
        return await result
