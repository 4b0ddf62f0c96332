"""The OSC transport: an asyncio UDP endpoint that parses datagrams and sends replies.

Our own DatagramProtocol (and bundle walker) rather than python-osc's server, because python-osc drops
parse errors silently (and logs whole junk bundle elements) where we must answer and count them. A
request whose handler answers at once is answered at once; one that awaits (a search) runs in its own
task, so a slow search never holds up a ping.

Where replies go is decided per client (sender address): `/midibridge/reply_port` from one client
moves only that client's replies. Replies that go to a port other than the request's own source are
bounded (per request and per destination), so a small request cannot be turned into a flood at a port
of the sender's choice.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections import OrderedDict
from collections.abc import Awaitable

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from bridge.daemon.dispatch import Dispatcher, error_reply
from bridge.daemon.logs import RateLimited, preview
from bridge.daemon.protocol import Reply

log = logging.getLogger(__name__)

MAX_TASKS = 256  # awaiting requests in flight; beyond this a request is answered "busy" instead of queued
MAX_BUNDLE_DEPTH = 4  # bundles inside bundles
MAX_ERRORS_PER_DATAGRAM = 32  # error replies for the bad elements of one bundle (the rest are counted)
MAX_CLIENTS = 1024  # remembered reply ports (least recently used forgotten first)
REDIRECT_MAX_BYTES = 64 * 1024  # replies of one request to a port other than its source: at most this much
REDIRECT_BYTES_PER_SECOND = 64 * 1024  # ...and to one such destination, on average
BUNDLE = b"#bundle\x00"


class PacketError(ValueError):
    """The whole datagram is not OSC."""


def parse_datagram(data: bytes, depth: int = 0) -> tuple[list[OscMessage], list[str]]:
    """The messages of a datagram (a bundle's, depth first) and one reason per element that is not OSC.

    Raises PacketError when the datagram itself is neither a message nor a bundle."""
    if data.startswith(BUNDLE):
        if len(data) < 16:
            raise PacketError(f"bundle of {len(data)} bytes is shorter than its 16-byte header")
        messages: list[OscMessage] = []
        errors: list[str] = []
        index, n = 16, 0
        while index < len(data):
            n += 1
            if index + 4 > len(data):
                errors.append(f"bundle element {n}: truncated size")
                break
            (size,) = struct.unpack(">i", data[index:index + 4])
            index += 4
            if size <= 0 or index + size > len(data):
                errors.append(f"bundle element {n}: size {size} does not fit the {len(data) - index} bytes left")
                break
            element = data[index:index + size]
            index += size
            if element.startswith(BUNDLE):
                if depth + 1 >= MAX_BUNDLE_DEPTH:
                    errors.append(f"bundle element {n}: bundles nested deeper than {MAX_BUNDLE_DEPTH}")
                    continue
                try:
                    inner, inner_errors = parse_datagram(element, depth + 1)
                except PacketError as e:
                    errors.append(f"bundle element {n}: {e}")
                    continue
                messages += inner
                errors += [f"bundle element {n}: {r}" for r in inner_errors]
            elif element.startswith(b"/"):
                try:
                    messages.append(OscMessage(element))
                except Exception as e:  # ParseError, but also IndexError/struct.error on junk
                    errors.append(f"bundle element {n}: {_first_line(e)}")
            else:
                errors.append(f"bundle element {n}: neither a message (starts with /) nor a bundle")
        return messages, errors
    if not data.startswith(b"/"):
        raise PacketError("neither a message (starts with /) nor a bundle (starts with #bundle)")
    try:
        return [OscMessage(data)], []
    except Exception as e:
        raise PacketError(_first_line(e)) from None


class ReplyTargets:
    """Where each client's replies go: its own port, or the one it asked for with /midibridge/reply_port.

    `default_port` (--reply-port) is the operator's choice for every client that has not asked; it is
    trusted. A port a client asked for over OSC is not: replies sent there from another source port are
    bounded (`REDIRECT_*`)."""

    def __init__(self, default_port: int = 0, limit: int = MAX_CLIENTS) -> None:
        self.default_port = default_port
        self.limit = limit
        self._ports: OrderedDict[tuple[str, int], int] = OrderedDict()
        # scope "host": the port for every client of that host that has not set its own (shell tools such as
        # oscsend send each message from a new port, so they cannot set one for themselves)
        self._hosts: OrderedDict[str, int] = OrderedDict()
        self._buckets: dict[tuple[str, int], tuple[float, float]] = {}  # destination -> (tokens, time)

    def set(self, sender: tuple[str, int], port: int, scope: str = "client") -> None:
        table, key = (self._hosts, sender[0]) if scope == "host" else (self._ports, sender)
        if scope == "host" and port == 0:
            self._hosts.pop(sender[0], None)
            return
        table[key] = port
        table.move_to_end(key)
        while len(table) > self.limit:
            table.popitem(last=False)

    def __len__(self) -> int:
        return len(self._ports) + len(self._hosts)

    def destination(self, sender: tuple[str, int]) -> tuple[tuple[str, int], bool]:
        """(where replies to this sender go, whether that is a port a client asked for over OSC)."""
        port = self._ports.get(sender)
        if port is None:
            port = self._hosts.get(sender[0])
        if port is None:
            return ((sender[0], self.default_port) if self.default_port else sender), False
        dest = (sender[0], port) if port else sender
        return dest, dest != sender

    def take(self, dest: tuple[str, int], size: int, now: float) -> bool:
        """Spend `size` bytes of the destination's budget (a token bucket of REDIRECT_MAX_BYTES)."""
        tokens, last = self._buckets.get(dest, (float(REDIRECT_MAX_BYTES), now))
        tokens = min(float(REDIRECT_MAX_BYTES), tokens + (now - last) * REDIRECT_BYTES_PER_SECOND)
        ok = size <= tokens
        self._buckets[dest] = (tokens - size if ok else tokens, now)
        if len(self._buckets) > 4 * self.limit:
            self._buckets.clear()
        return ok


class OscServer(asyncio.DatagramProtocol):
    def __init__(self, dispatcher: Dispatcher, reply_port: int = 0) -> None:
        self.dispatcher = dispatcher
        self.targets = ReplyTargets(reply_port)
        self.transport: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task] = set()
        # Live counters, shown by /midibridge/status (the dict itself is handed to the context).
        self.counters: dict[str, int] = {"datagrams": 0, "replies_sent": 0, "send_errors": 0,
                                         "replies_withheld": 0, "reply_clients": 0}
        self._junk_log = RateLimited(log, burst=5, interval=10.0)

    async def start(self, host: str, port: int) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(host, port))
        self.transport = transport  # type: ignore[assignment]
        return transport.get_extra_info("sockname")[:2]

    def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        if self.transport is not None:
            self.transport.close()

    def set_reply_port(self, sender: tuple[str, int], port: int, scope: str = "client") -> None:
        self.targets.set(sender, port, scope)
        self.counters["reply_clients"] = len(self.targets)

    # asyncio hooks
    def connection_made(self, transport) -> None:
        self.transport = transport

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a client that went away: not our error, keep serving.
        self.counters["send_errors"] += 1
        log.debug("UDP error: %s", exc)

    def datagram_received(self, data: bytes, addr) -> None:
        self.counters["datagrams"] += 1
        sender = (addr[0], addr[1])
        try:
            messages, errors = parse_datagram(data)
        except PacketError as e:
            self._junk_log(logging.INFO, "not OSC from %s:%d: %s: %s", *sender, e, preview(data))
            self.send(self.dispatcher.parse_error(str(e)), sender)
            return
        if errors:
            self._junk_log(logging.INFO, "%d bad bundle element(s) from %s:%d: %s: %s", len(errors), *sender,
                           errors[0], preview(data))
            for i, reason in enumerate(errors):
                replies = self.dispatcher.parse_error(reason)
                if i < MAX_ERRORS_PER_DATAGRAM:
                    self.send(replies, sender)
        for message in messages:
            address, args = message.address, tuple(message.params)
            result = self.dispatcher.begin(address, args, sender)
            if isinstance(result, list):
                self.send(result, sender)
                continue
            if len(self._tasks) >= MAX_TASKS:
                _discard(result)
                self.send(self.dispatcher.busy(address, args, f"{len(self._tasks)} requests in flight "
                                                              f"(at most {MAX_TASKS}); try again"), sender)
                continue
            task = asyncio.ensure_future(self._finish(result, sender))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _finish(self, result: Awaitable[list[Reply]], sender: tuple[str, int]) -> None:
        self.send(await result, sender)

    def destination(self, sender: tuple[str, int]) -> tuple[str, int]:
        return self.targets.destination(sender)[0]

    def send(self, replies: list[Reply], sender: tuple[str, int]) -> None:
        if self.transport is None or self.transport.is_closing() or not replies:
            return
        dest, redirected = self.targets.destination(sender)
        packets = []
        for reply in replies:
            try:
                packets.append(build(reply))
            except Exception as e:  # an unbuildable reply is a bug; log it and go on serving
                self.counters["send_errors"] += 1
                log.error("cannot build %s for %s: %s", reply.address, dest, e)
        if redirected:
            size = sum(len(p) for p in packets)
            if size > REDIRECT_MAX_BYTES or not self.targets.take(dest, size, time.monotonic()):
                self._withhold(replies, packets, size, sender, dest)
                return
        for packet in packets:
            self._sendto(packet, dest)

    def _withhold(self, replies: list[Reply], packets: list[bytes], size: int, sender: tuple[str, int],
                  dest: tuple[str, int]) -> None:
        self.counters["replies_withheld"] += len(packets)
        first = replies[0]
        rid = first.args[0] if first.args and isinstance(first.args[0], int) else -1
        reason = (f"reply withheld: {len(packets)} messages ({size} bytes) for port {dest[1]}, which is not the "
                  f"request's own port; such replies are limited to {REDIRECT_MAX_BYTES} bytes per request and "
                  f"{REDIRECT_BYTES_PER_SECOND} bytes/s (send from that port, or start the daemon with "
                  f"--reply-port {dest[1]})")
        notice = build(error_reply(rid, reason, first.address))
        self._sendto(notice, sender)
        if self.targets.take(dest, len(notice), time.monotonic()):
            self._sendto(notice, dest)
        self._junk_log(logging.WARNING, "withheld %d replies for %s:%d (request from %s:%d)", len(packets), *dest,
                       *sender)

    def _sendto(self, packet: bytes, dest: tuple[str, int]) -> None:
        try:
            self.transport.sendto(packet, dest)  # type: ignore[union-attr]
            self.counters["replies_sent"] += 1
        except Exception as e:
            self.counters["send_errors"] += 1
            log.debug("cannot send to %s: %s", dest, e)


def _discard(result: Awaitable) -> None:
    close = getattr(result, "close", None)  # a coroutine never started: close it (no "never awaited")
    if close is not None:
        close()


def build(reply: Reply) -> bytes:
    builder = OscMessageBuilder(reply.address)
    for value in reply.args:
        if isinstance(value, bool):
            builder.add_arg(int(value), "i")
        elif isinstance(value, int):
            builder.add_arg(value, "i" if -(2**31) <= value < 2**31 else "h")
        elif isinstance(value, float):
            builder.add_arg(value, "f")
        else:
            builder.add_arg(str(value), "s")
    return builder.build().dgram


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0][:200] if text else "") or type(e).__name__
