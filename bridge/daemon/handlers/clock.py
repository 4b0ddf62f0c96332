"""tempo, clock source and transport."""

from __future__ import annotations

from bridge.daemon.context import Context
from bridge.daemon.protocol import PREFIX, ProtocolError, Reply, Request


def tempo_reply(ctx: Context, request_id: int) -> Reply:
    c = ctx.midi.clock.as_dict(ctx.midi.io.now())
    return Reply(f"{PREFIX}/tempo/get", (request_id, float(c["bpm"]), c["source"], float(c["beat"]), int(c["running"])))


def table(ctx: Context):
    midi = ctx.midi

    def tempo_set(req: Request) -> list[Reply]:
        if midi.clock.source == "midi":
            raise ProtocolError("tempo follows MIDI clock; send /midibridge/clock/source internal first")
        midi.set_tempo(req["bpm"])  # with Link on, proposed to every peer
        return [tempo_reply(ctx, req.id)]

    def tempo_get(req: Request) -> list[Reply]:
        return [tempo_reply(ctx, req.id)]

    def source(req: Request) -> list[Reply]:
        from bridge.midi.jack_transport import JackTransportUnavailable
        from bridge.midi.link import LinkUnavailable

        try:
            midi.set_clock_source(req["source"])
        except (LinkUnavailable, JackTransportUnavailable) as e:
            raise ProtocolError(str(e)) from None
        return [tempo_reply(ctx, req.id)]

    def start(req: Request) -> list[Reply]:
        if midi.clock.source == "midi":
            raise ProtocolError("transport follows MIDI clock (start/stop come from the clock master)")
        midi.clock.start(midi.io.now())
        return [tempo_reply(ctx, req.id)]

    def stop(req: Request) -> list[Reply]:
        if midi.clock.source == "midi":
            raise ProtocolError("transport follows MIDI clock (start/stop come from the clock master)")
        midi.stop()
        midi.clock.stop(midi.io.now())
        return [tempo_reply(ctx, req.id)]

    return [
        (f"{PREFIX}/tempo/set", tempo_set),
        (f"{PREFIX}/tempo/get", tempo_get),
        (f"{PREFIX}/clock/source", source),
        (f"{PREFIX}/transport/start", start),
        (f"{PREFIX}/transport/stop", stop),
    ]
