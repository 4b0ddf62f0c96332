"""Argument checking at the boundary and the dispatcher's error accounting (no sockets)."""

from __future__ import annotations

import asyncio

import pytest

from bridge.daemon.dispatch import Dispatcher
from bridge.daemon.protocol import PROTOCOL, ProtocolError, Reply
from bridge.daemon.search_service import parse_filters

SENDER = ("127.0.0.1", 5)


def parse(path, *args):
    return PROTOCOL.requests[path].parse(args, SENDER)


def test_requests_are_checked_with_errors_naming_the_valid_range():
    req = parse("/midibridge/search/text", 7, 5, "sad", "mode=minor")
    assert req.id == 7 and req["k"] == 5 and req.rest == ("mode=minor",)
    with pytest.raises(ProtocolError, match=r"k must be an int in 1\.\.100, got 101") as e:
        parse("/midibridge/search/text", 7, 101, "sad")
    assert e.value.request_id == 7
    with pytest.raises(ProtocolError, match=r"bpm must be a float in 20\.0\.\.300\.0, got 10\.0"):
        parse("/midibridge/tempo/set", 1, 10.0)
    with pytest.raises(ProtocolError, match=r"at must be one of bar, beat, now, got 'later'"):
        parse("/midibridge/play/file", 1, "/x.mid", "later")
    with pytest.raises(ProtocolError, match=r"takes 1 arguments \(i id\), got 2"):
        parse("/midibridge/ping", 1, 2)
    with pytest.raises(ProtocolError, match="id must be an int"):
        parse("/midibridge/ping", "one")
    with pytest.raises(ProtocolError, match="got bool True"):
        parse("/midibridge/ping", True)
    assert parse("/midibridge/ping", 3.0).id == 3  # Max and Pd send whole numbers as floats
    assert parse("/midibridge/play/file", 1, "/x.mid")["at"] == "bar"  # optional with default


def test_filters():
    assert parse_filters(("key=A minor", "tempo=80-120", "meter=3/4", "min_bars=4")) == {
        "key": "A minor", "tempo": (80.0, 120.0), "meter": "3/4", "min_bars": 4}
    for bad, message in (("tempo=fast", "tempo must be"), ("mode=dorian", "mode must be"), ("colour=red", "filter")):
        with pytest.raises(ProtocolError, match=message):
            parse_filters((bad,))


def test_dispatcher_counts_every_kind_of_error():
    d = Dispatcher(PROTOCOL)

    def boom(req):
        raise RuntimeError("bug")

    def refuse(req):
        raise ProtocolError("no such hit")

    d.register("/midibridge/ping", lambda req: [Reply("/midibridge/ping", (req.id, "pong"))])
    d.register("/midibridge/status", boom)
    d.register("/midibridge/play/stop", refuse)

    async def run():
        return [
            await d.dispatch("/midibridge/ping", (1,), SENDER),
            await d.dispatch("/nope", (2,), SENDER),
            await d.dispatch("/midibridge/ping", ("x",), SENDER),
            await d.dispatch("/midibridge/status", (3,), SENDER),
            await d.dispatch("/midibridge/play/stop", (4,), SENDER),
        ]

    results = asyncio.run(run())
    assert results[0] == [Reply("/midibridge/ping", (1, "pong"))]
    assert [r[0].address for r in results[1:]] == ["/midibridge/error"] * 4
    assert [r[0].args[0] for r in results[1:]] == [2, -1, 3, 4]
    assert d.parse_error("junk")[0].args[0] == -1
    assert d.stats.as_dict() == {"total": 5, "parse": 1, "unknown_address": 1, "bad_arguments": 1, "busy": 0,
                                 "failed": 1, "internal": 1}
    with pytest.raises(KeyError):
        d.register("/midibridge/not_in_table", boom)
