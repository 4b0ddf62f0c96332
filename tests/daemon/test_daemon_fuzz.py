"""10,000 malformed or random OSC packets: every one gets an error reply and is counted; ping still works."""

from __future__ import annotations

import random
import struct

import pytest
from daemon_harness import OscClient, start_daemon
from pythonosc.osc_message_builder import OscMessageBuilder

from bridge.daemon.protocol import PROTOCOL

N_PACKETS = 10_000
BATCH = 100


def _osc(address: str, args: list) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def _bundle(message: bytes) -> bytes:
    return b"#bundle\x00" + struct.pack(">Q", 1) + struct.pack(">i", len(message)) + message


def malformed(rng: random.Random) -> tuple[str, bytes]:
    """One packet that must produce exactly one error, and the kind of error it must be."""
    paths = sorted(PROTOCOL.requests)
    kind = rng.randrange(7)
    if kind == 0:  # not OSC at all
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        return "parse", (b"x" + data if data[:1] in (b"/", b"#") else data)
    if kind == 1:  # an address, then garbage: a parse error, a junk address or bad arguments: one error
        return "any", b"/" + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
    if kind == 2:  # truncated valid message
        full = _osc(rng.choice(paths), [rng.randrange(100), "text"])
        return "any", full[: rng.randrange(1, len(full))] if len(full) > 1 else b"\x00"
    if kind == 3:  # unknown address
        return "unknown", _osc(f"/midibridge/no_such_{rng.randrange(10**6)}", [rng.randrange(100)])
    if kind == 4:  # request id of the wrong type
        return "bad", _osc(rng.choice(paths), [rng.choice(["id", 1.5, b"\x01\x02", True])])
    if kind == 5:  # too many arguments (addresses without a variable tail) or out of range numbers
        spec = PROTOCOL.requests[rng.choice([p for p in paths if PROTOCOL.requests[p].rest is None])]
        return "bad", _osc(spec.path, [1] + [0] * (len(spec.all_args) + rng.randrange(1, 4)))
    # a single bad message inside a bundle
    return "bad", _bundle(_osc("/midibridge/tempo/set", [rng.randrange(100), rng.choice([0.0, 999.0, -5.0])]))


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    d = start_daemon(tmp_path_factory.mktemp("fuzz"), None, "--midi-api", "none")
    yield d
    d.stop()


def test_ten_thousand_malformed_packets_are_answered_and_counted(daemon):
    rng = random.Random(20261123)
    client = OscClient(daemon.port)
    before = client.status(1)
    assert before["midi_backend"] == "none" and before["midi_problem"]  # no MIDI: says so, keeps serving
    kinds = {"parse": 0, "unknown": 0, "bad": 0, "any": 0}
    error_replies = 0
    for batch in range(N_PACKETS // BATCH):
        for _ in range(BATCH):
            kind, data = malformed(rng)
            kinds[kind] += 1
            client.send_raw(data)
        # A ping after each batch: UDP on loopback keeps order, so its pong means the batch was served
        # (and pacing keeps the socket buffers from overflowing).
        msgs = client.request("/midibridge/ping", 100_000 + batch)
        error_replies += sum(1 for m in msgs if m.address == "/midibridge/error")
    after = client.status(2)
    client.close()
    assert error_replies == N_PACKETS
    assert after["errors"] - before["errors"] == N_PACKETS
    assert after["errors_internal"] == 0
    parse = after["errors_parse"] - before["errors_parse"]
    unknown = after["errors_unknown_address"] - before["errors_unknown_address"]
    bad = after["errors_bad_arguments"] - before["errors_bad_arguments"]
    assert parse >= kinds["parse"]
    assert unknown >= kinds["unknown"]
    assert bad >= kinds["bad"]  # a truncated message may still parse, with too few arguments
    assert parse + unknown + bad == N_PACKETS
