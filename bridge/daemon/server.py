"""The OSC transport: an asyncio UDP endpoint that parses datagrams and sends replies.

Our own DatagramProtocol rather than python-osc's server, because python-osc drops parse errors
silently and we must answer (and count) them. Each datagram is handled in its own task, so a slow
search never holds up a ping.
"""

from __future__ import annotations

import asyncio
import logging

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from bridge.daemon.dispatch import Dispatcher
from bridge.daemon.protocol import Reply

log = logging.getLogger(__name__)

MAX_TASKS = 256  # datagrams in flight; beyond this we answer "busy" instead of queueing without bound


class OscServer(asyncio.DatagramProtocol):
    def __init__(self, dispatcher: Dispatcher, reply_port: int = 0) -> None:
        self.dispatcher = dispatcher
        self.reply_port = reply_port  # 0: reply to the sender's own port
        self.transport: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task] = set()
        self.datagrams = 0
        self.replies_sent = 0
        self.send_errors = 0

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

    # asyncio hooks
    def connection_made(self, transport) -> None:
        self.transport = transport

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a client that went away: not our error, keep serving.
        self.send_errors += 1
        log.debug("UDP error: %s", exc)

    def datagram_received(self, data: bytes, addr) -> None:
        self.datagrams += 1
        sender = (addr[0], addr[1])
        try:
            packet = OscPacket(data)
            messages = [m.message for m in packet.messages]
        except Exception as e:  # python-osc raises ParseError, but also IndexError/struct.error on junk
            self.send(self.dispatcher.parse_error(_first_line(e)), sender)
            return
        for message in messages:
            if len(self._tasks) >= MAX_TASKS:
                self.send(self.dispatcher.parse_error("server busy"), sender)
                continue
            task = asyncio.ensure_future(self._handle(message, sender))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _handle(self, message: OscMessage, sender: tuple[str, int]) -> None:
        replies = await self.dispatcher.dispatch(message.address, tuple(message.params), sender)
        self.send(replies, sender)

    def destination(self, sender: tuple[str, int]) -> tuple[str, int]:
        return (sender[0], self.reply_port) if self.reply_port else sender

    def send(self, replies: list[Reply], sender: tuple[str, int]) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        dest = self.destination(sender)
        for reply in replies:
            try:
                self.transport.sendto(build(reply), dest)
                self.replies_sent += 1
            except Exception as e:  # an unbuildable reply is a bug; log it and go on serving
                self.send_errors += 1
                log.error("cannot send %s to %s: %s", reply.address, dest, e)


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
