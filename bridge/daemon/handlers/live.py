"""generate/*, clock/sync, latency/set: the jam's OSC handlers (the work is in bridge.daemon.live)."""

from __future__ import annotations

from bridge.daemon.context import Context
from bridge.daemon.handlers.clock import tempo_reply
from bridge.daemon.protocol import MAX_TEXT, PREFIX, ProtocolError, Reply, Request
from bridge.daemon.protocol_live import LIVE_REQUESTS


def _items(req: Request, first: str | None = None) -> tuple[str, ...]:
    items = ((first,) if first else ()) + tuple(req.rest)
    if sum(len(i) for i in items) > MAX_TEXT:
        raise ProtocolError(f"controls must be at most {MAX_TEXT} characters together, got "
                            f"{sum(len(i) for i in items)}", req.id)
    return items


def table(ctx: Context):
    live = ctx.live
    midi = ctx.midi

    def off(req: Request):
        raise ProtocolError("live generation is off (started with --no-generation)", req.id)

    async def start(req: Request) -> list[Reply]:
        prompt = req["prompt"]
        if len(prompt) + sum(len(i) for i in req.rest) > MAX_TEXT:
            raise ProtocolError(f"prompt and controls must be at most {MAX_TEXT} characters together", req.id)
        beat, settings = await live.start(prompt, _items(req))
        b = settings.controls.base
        from bridge.analysis.names import tonic_name

        return [Reply(f"{PREFIX}/generate/start", (req.id, round(beat, 4), f"{tonic_name(b.tonic_pc, b.mode)} {b.mode}",
                                                   b.meter, float(round(midi.clock.bpm, 3)), int(b.bars)))]

    def stop(req: Request) -> list[Reply]:
        return [Reply(f"{PREFIX}/generate/stop", (req.id, live.stop_stream()))]

    async def set_(req: Request) -> list[Reply]:
        beat = await live.set(_items(req, req["control"]))
        return [Reply(f"{PREFIX}/generate/set", (req.id, round(beat, 4)))]

    def listen(req: Request) -> list[Reply]:
        live.listen(req.id, ctx_reply_address(req), bool(req["on"]))
        return []

    def call_start(req: Request) -> list[Reply]:
        if midi.io.backend == "none":
            raise ProtocolError(f"no MIDI: {midi.io.problem}", req.id)
        live.arm_call(req.id, ctx_reply_address(req), req["mode"], req["bars"])
        return [Reply(f"{PREFIX}/generate/call/start", (req.id, req["mode"], req["bars"]))]

    def call_stop(req: Request) -> list[Reply]:
        live.disarm_call()
        return [Reply(f"{PREFIX}/generate/call/stop", (req.id,))]

    def clock_sync(req: Request) -> list[Reply]:
        if midi.clock.source == "midi":
            raise ProtocolError("the clock follows MIDI clock; send /midibridge/clock/source internal first", req.id)
        midi.clock.sync(req["bpm"], req["beat"], midi.io.now(), float(req["beats_per_bar"]))
        return [tempo_reply(ctx, req.id)]

    def panic(req: Request) -> list[Reply]:
        if live is not None:
            live.stop_stream()
        return [Reply(f"{PREFIX}/panic", (req.id, midi.panic(every_channel=bool(req["all"]))))]

    def latency(req: Request) -> list[Reply]:
        port, ms = req["port"], float(req["ms"])
        if port == "all":
            midi.scheduler.set_latency(ms)
            midi.scheduler.channel_latency_ms.clear()
        elif port == "out":
            midi.scheduler.set_latency(ms)  # channels routed to role ports keep their own
        else:
            if live is None or not live.role_ports:
                raise ProtocolError(f"no {port} port: start the daemon with --role-ports", req.id)
            midi.scheduler.set_latency(ms, {live.settings.channels[port]})
        return [Reply(f"{PREFIX}/latency/set", (req.id, ms, port))]

    def ctx_reply_address(req: Request) -> tuple[str, int]:
        # Replies that come later (listen, call answers) are sent as replies to this sender: the OSC server
        # sends them wherever this client's replies go (its own port, or its /midibridge/reply_port).
        return req.sender

    handlers = {"start": start, "stop": stop, "set": set_, "listen": listen, "call/start": call_start,
                "call/stop": call_stop}
    out = []
    for a in LIVE_REQUESTS:
        name = a.path.removeprefix(f"{PREFIX}/generate/")
        if a.path.startswith(f"{PREFIX}/generate/"):
            out.append((a.path, handlers[name] if live is not None else off))
    out += [(f"{PREFIX}/clock/sync", clock_sync), (f"{PREFIX}/latency/set", latency), (f"{PREFIX}/panic", panic)]
    return out
