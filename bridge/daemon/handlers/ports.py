"""ports/list, ports/connect, ports/disconnect."""

from __future__ import annotations

from bridge.daemon.context import Context
from bridge.daemon.protocol import PREFIX, ProtocolError, Reply, Request
from bridge.midi.ports import MidiUnavailable


def table(ctx: Context):
    io = ctx.midi.io

    def listing(req: Request) -> list[Reply]:
        ports = io.list_ports()
        replies = [Reply(f"{PREFIX}/ports/port", (req.id, p.kind, p.name, int(p.connected))) for p in ports]
        replies.append(Reply(f"{PREFIX}/ports/end", (req.id, len(ports), io.backend)))
        return replies

    def _change(req: Request, connect: bool) -> list[Reply]:
        try:
            (io.connect if connect else io.disconnect)(req["direction"], req["port"])
        except MidiUnavailable as e:
            raise ProtocolError(str(e)) from None
        except Exception as e:  # JACK refuses (e.g. not connected): report it, keep serving
            raise ProtocolError(f"cannot {'connect' if connect else 'disconnect'} {req['port']!r}: {e}") from None
        verb = "connect" if connect else "disconnect"
        return [Reply(f"{PREFIX}/ports/{verb}", (req.id, req["direction"], req["port"]))]

    return [
        (f"{PREFIX}/ports/list", listing),
        (f"{PREFIX}/ports/connect", lambda req: _change(req, True)),
        (f"{PREFIX}/ports/disconnect", lambda req: _change(req, False)),
    ]
