"""The OSC address space of the daemon, as tables.

Every request and reply address lives here once; the dispatcher, docs/protocol.md, the Max and Pd
patches and their tests are all checked against these tables. Requests are validated at the
boundary into an immutable `Request`; an invalid one never reaches a handler.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

PREFIX = "/midibridge"
ERROR_ADDRESS = f"{PREFIX}/error"
MAX_ID = 2**31 - 1
MAX_TEXT = 512  # characters; longer texts are refused, not truncated, so the caller knows
MAX_PATH = 4096


class ProtocolError(Exception):
    """A request that cannot be served; `reason` goes back to the sender in /midibridge/error."""

    def __init__(self, reason: str, request_id: int = -1, kind: str = "bad_request") -> None:
        super().__init__(reason)
        self.reason = reason
        self.request_id = request_id
        self.kind = kind


@dataclass(frozen=True)
class Arg:
    """One positional OSC argument: its type tag, valid range and meaning."""

    name: str
    tag: str  # "i" int32, "f" float32, "s" string
    doc: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    optional: bool = False
    default: Any = None
    max_len: int = MAX_TEXT

    def describe(self) -> str:
        kind = {"i": "an int", "f": "a float", "s": "a string"}[self.tag]
        if self.choices:
            return f"{self.name} must be one of {', '.join(self.choices)}"
        if self.lo is not None and self.hi is not None:
            lo = int(self.lo) if self.tag == "i" else self.lo
            hi = int(self.hi) if self.tag == "i" else self.hi
            return f"{self.name} must be {kind} in {lo}..{hi}"
        return f"{self.name} must be {kind}"

    def check(self, value: Any) -> Any:
        """Return the value converted to its Python type, or raise ProtocolError naming the valid range."""
        if self.tag == "i":
            ok = isinstance(value, int) and not isinstance(value, bool)
            if not ok and isinstance(value, float) and value.is_integer():
                value, ok = int(value), True  # Max sends whole numbers as floats from some objects
            if not ok:
                raise ProtocolError(f"{self.describe()}, got {_show(value)}")
        elif self.tag == "f":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ProtocolError(f"{self.describe()}, got {_show(value)}")
            value = float(value)
            if not math.isfinite(value):
                raise ProtocolError(f"{self.describe()}, got {value}")
        else:
            if not isinstance(value, str):
                raise ProtocolError(f"{self.describe()}, got {_show(value)}")
            if len(value) > self.max_len:
                raise ProtocolError(f"{self.name} must be at most {self.max_len} characters, got {len(value)}")
            if self.choices and value not in self.choices:
                raise ProtocolError(f"{self.describe()}, got {value!r}")
        if self.lo is not None and value < self.lo or self.hi is not None and value > self.hi:
            raise ProtocolError(f"{self.describe()}, got {value}")
        return value


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"string {value[:40]!r}"
    if isinstance(value, (bytes, bytearray)):
        return f"blob of {len(value)} bytes"
    if isinstance(value, bool):
        return f"bool {value}"
    if value is None:
        return "nil"
    return f"{type(value).__name__} {value!r}"[:60]


REQUEST_ID = Arg("id", "i", "request id, echoed in every reply and error", 0, MAX_ID)


@dataclass(frozen=True)
class Address:
    """A request address: its arguments (after the leading request id) and the replies it causes."""

    path: str
    doc: str
    args: tuple[Arg, ...] = ()
    rest: Arg | None = None  # any number of further arguments of this kind (e.g. search filters)
    replies: tuple[str, ...] = ()
    example: str = ""  # oscsend type tags and arguments after the address

    @property
    def all_args(self) -> tuple[Arg, ...]:
        return (REQUEST_ID, *self.args)

    def signature(self) -> str:
        parts = []
        for a in self.all_args:
            parts.append(f"[{a.tag} {a.name}]" if a.optional else f"{a.tag} {a.name}")
        if self.rest:
            parts.append(f"[{self.rest.tag} {self.rest.name} ...]")
        return " ".join(parts)

    def parse(self, values: tuple, sender: tuple[str, int]) -> Request:
        request_id = -1
        if values and isinstance(values[0], int) and not isinstance(values[0], bool):
            request_id = int(values[0])
        required = sum(1 for a in self.all_args if not a.optional)
        most = None if self.rest else len(self.all_args)
        if len(values) < required or (most is not None and len(values) > most):
            span = f"{required}" if most == required else f"{required}..{most if most is not None else 'n'}"
            raise ProtocolError(
                f"{self.path} takes {span} arguments ({self.signature()}), got {len(values)}", request_id
            )
        checked: dict[str, Any] = {}
        for spec, value in zip(self.all_args, values):
            try:
                checked[spec.name] = spec.check(value)
            except ProtocolError as e:
                raise ProtocolError(e.reason, request_id) from None
        for spec in self.all_args[len(values) :]:
            checked[spec.name] = spec.default
        extra = values[len(self.all_args) :]
        rest: tuple = ()
        if self.rest and extra:
            try:
                rest = tuple(self.rest.check(v) for v in extra)
            except ProtocolError as e:
                raise ProtocolError(e.reason, request_id) from None
        return Request(
            address=self.path,
            id=checked.pop("id"),
            args=MappingProxyType(checked),
            rest=rest,
            sender=sender,
        )


@dataclass(frozen=True)
class Request:
    """A validated request: handlers get only this, never raw OSC."""

    address: str
    id: int
    args: Mapping[str, Any]
    rest: tuple = ()
    sender: tuple[str, int] = ("127.0.0.1", 0)

    def __getitem__(self, name: str) -> Any:
        return self.args[name]


@dataclass(frozen=True)
class Reply:
    """One outgoing OSC message."""

    address: str
    args: tuple = ()


@dataclass(frozen=True)
class ReplySpec:
    path: str
    doc: str
    signature: str


@dataclass(frozen=True)
class Protocol:
    requests: Mapping[str, Address] = field(default_factory=dict)
    replies: Mapping[str, ReplySpec] = field(default_factory=dict)

    def all_paths(self) -> set[str]:
        return set(self.requests) | set(self.replies)


AT = Arg("at", "s", "when to start: next bar, next beat, or now", choices=("bar", "beat", "now"), optional=True,
         default="bar")
K = Arg("k", "i", "number of hits", 1, 100)
DIRECTION = Arg("direction", "s", "which daemon port", choices=("in", "out"))

_P = PREFIX
REQUESTS: tuple[Address, ...] = (
    Address(f"{_P}/ping", "Liveness check.", replies=(f"{_P}/ping",), example="i 1"),
    Address(f"{_P}/status", "Uptime, library, models, ports, tempo and clock, error counts.",
            replies=(f"{_P}/status",), example="i 2"),
    Address(f"{_P}/reply_port", "Send every later reply to this client (this sender address and port) to this UDP "
            "port on its host (0: to the sending port). Other clients are not affected, unless scope is `host`: "
            "then every client of this host that has not set its own port (for shell tools such as oscsend, "
            "which send each message from a new port). Replies sent to a port other than the request's own are "
            "bounded (see Conventions).",
            args=(Arg("port", "i", "UDP port, 0 = reply to the sending port", 0, 65535),
                  Arg("scope", "s", "client: this sender only; host: every client of this host without its own",
                      choices=("client", "host"), optional=True, default="client")),
            replies=(f"{_P}/reply_port",), example="ii 3 9001"),
    Address(f"{_P}/search/text", "Search the library by a text description.",
            args=(K, Arg("text", "s", "what you are looking for")),
            rest=Arg("filter", "s", "key=value filter (key, mode, tempo lo-hi, meter, instrument, min_bars); "
                     "strings without '=' are more words of the text"),
            replies=(f"{_P}/search/hit", f"{_P}/search/end"),
            example='iiss 4 5 "sad piano melody" "mode=minor"'),
    Address(f"{_P}/search/example", "Search by example: the last captured phrase, or a MIDI file inside the library.",
            args=(K, Arg("path", "s", "MIDI file inside the library; empty or absent: the last captured phrase",
                         optional=True, default="", max_len=MAX_PATH)),
            replies=(f"{_P}/search/hit", f"{_P}/search/end"), example="ii 5 5"),
    Address(f"{_P}/play/hit", "Play a hit of an earlier search into the MIDI out port, from the next bar or beat.",
            args=(Arg("search_id", "i", "request id of the search", 0, MAX_ID),
                  Arg("rank", "i", "0-based rank of the hit in that search", 0, 99), AT),
            replies=(f"{_P}/play/hit",), example="iii 6 4 0"),
    Address(f"{_P}/hit/notes", "The notes of a hit of an earlier search (to write them into a DAW clip).",
            args=(Arg("search_id", "i", "request id of the search", 0, MAX_ID),
                  Arg("rank", "i", "0-based rank of the hit in that search", 0, 99)),
            replies=(f"{_P}/hit/note", f"{_P}/hit/end"), example="iii 20 4 0"),
    Address(f"{_P}/play/file", "Play a MIDI file inside the library's folders (or the bundled clips, or a "
            "--play-dir) into the MIDI out port, from the next bar or beat.",
            args=(Arg("path", "s", "MIDI file path inside the library's folders", max_len=MAX_PATH), AT),
            replies=(f"{_P}/play/file",), example="iss 7 /tmp/clip.mid now"),
    Address(f"{_P}/play/stop", "Stop playback; every sounding note gets its note-off.",
            replies=(f"{_P}/play/stop",), example="i 8"),
    Address(f"{_P}/tempo/set", "Set the internal tempo (used while the clock source is internal).",
            args=(Arg("bpm", "f", "quarter notes per minute", 20.0, 300.0),),
            replies=(f"{_P}/tempo/get",), example="if 9 96"),
    Address(f"{_P}/tempo/get", "Current tempo, clock source, beat position and whether the transport runs.",
            replies=(f"{_P}/tempo/get",), example="i 10"),
    Address(f"{_P}/clock/source", "Follow the internal tempo, incoming MIDI clock on the in port, an Ableton "
            "Link session (the 'link' extra), or JACK transport (start/stop and the timebase master's bars).",
            args=(Arg("source", "s", "clock source", choices=("internal", "midi", "link", "jack")),),
            replies=(f"{_P}/tempo/get",), example="is 11 midi"),
    Address(f"{_P}/transport/start", "Start the internal transport at beat 0.",
            replies=(f"{_P}/tempo/get",), example="i 12"),
    Address(f"{_P}/transport/stop", "Stop the internal transport (and playback).",
            replies=(f"{_P}/tempo/get",), example="i 13"),
    Address(f"{_P}/ports/list", "List the daemon's MIDI ports and the system ports it can connect to.",
            replies=(f"{_P}/ports/port", f"{_P}/ports/end"), example="i 14"),
    Address(f"{_P}/ports/connect", "Connect the daemon's in or out port to an existing port by name.",
            args=(DIRECTION, Arg("port", "s", "full port name, as /midibridge/ports/list shows it")),
            replies=(f"{_P}/ports/connect",), example='iss 15 out "fluidsynth:midi_00"'),
    Address(f"{_P}/ports/disconnect", "Undo /midibridge/ports/connect.",
            args=(DIRECTION, Arg("port", "s", "full port name")),
            replies=(f"{_P}/ports/disconnect",), example='iss 16 out "fluidsynth:midi_00"'),
    Address(f"{_P}/capture/start", "Arm query-by-playing: the next phrase on the in port is analysed and searched.",
            args=(Arg("k", "i", "number of hits", 1, 100, optional=True, default=5),
                  Arg("play", "i", "1: play the best hit at the next bar", 0, 1, optional=True, default=0)),
            replies=(f"{_P}/capture/start", f"{_P}/capture/phrase", f"{_P}/search/hit", f"{_P}/search/end"),
            example="iii 17 5 1"),
    Address(f"{_P}/capture/stop", "End the phrase being captured now (instead of waiting for silence).",
            replies=(f"{_P}/capture/stop",), example="i 18"),
    Address(f"{_P}/capture/silence", "How many beats of silence end a phrase.",
            args=(Arg("beats", "f", "silence in beats", 0.25, 64.0),),
            replies=(f"{_P}/capture/silence",), example="if 19 2"),
    Address(f"{_P}/library/index", "Re-index every folder of the library now (new, changed and removed files; "
            "also folders added to it with `midibridge index DIR` while the daemon serves). Runs in a worker of "
            "its own: searches go on meanwhile.",
            replies=(f"{_P}/library/progress", f"{_P}/library/index"), example="i 21"),
)

REPLIES: tuple[ReplySpec, ...] = (
    ReplySpec(f"{_P}/ping", "Answer to ping.", "i id, s \"pong\", s version"),
    ReplySpec(f"{_P}/status", "Status as key/value pairs.", "i id, then (s key, value) pairs"),
    ReplySpec(f"{_P}/reply_port", "The reply port now in use.", "i id, i port, s scope (client | host)"),
    ReplySpec(f"{_P}/search/hit", "One hit, best first.",
              "i id, i rank, s file, f score, i start_bar, i end_bar, f start_seconds, f end_seconds, "
              "s key, f tempo, s meter, s instruments, i transpose (semitones the example was moved to match; "
              "0 for text), s matched, s missed (what the text states or prefers that this hit satisfies / "
              "misses, labels joined by \"|\", e.g. \"key A minor|instrument piano (matched family: keyboards)\"; "
              "empty when none)"),
    ReplySpec(f"{_P}/search/end", "After the last hit.", "i id, i count, f milliseconds"),
    ReplySpec(f"{_P}/hit/note", "One note of the hit, in start order.",
              "i id, f start_beats, f duration_beats, i pitch, i velocity, i channel"),
    ReplySpec(f"{_P}/hit/end", "After the last note.", "i id, i notes, f length_beats, f tempo, s meter"),
    ReplySpec(f"{_P}/play/hit", "Playback scheduled, or waiting for the transport.",
              "i id, f start_beat (-1 while waiting), i notes, s state (scheduled | waiting for transport)"),
    ReplySpec(f"{_P}/play/file", "Playback scheduled, or waiting for the transport.",
              "i id, f start_beat (-1 while waiting), i notes, s state (scheduled | waiting for transport)"),
    ReplySpec(f"{_P}/play/stop", "Playback stopped.", "i id, i events_cancelled"),
    ReplySpec(f"{_P}/tempo/get", "Clock state.", "i id, f bpm, s source, f beat, i running"),
    ReplySpec(f"{_P}/ports/port", "One MIDI port.", "i id, s kind (own_in|own_out|source|sink), s name, i connected"),
    ReplySpec(f"{_P}/ports/end", "After the last port.", "i id, i count, s backend"),
    ReplySpec(f"{_P}/ports/connect", "Connected.", "i id, s direction, s port"),
    ReplySpec(f"{_P}/ports/disconnect", "Disconnected.", "i id, s direction, s port"),
    ReplySpec(f"{_P}/capture/start", "Capture armed.", "i id, f silence_beats"),
    ReplySpec(f"{_P}/capture/stop", "Capture ended.", "i id, i notes"),
    ReplySpec(f"{_P}/capture/silence", "Silence now in use.", "i id, f beats"),
    ReplySpec(f"{_P}/capture/phrase", "A captured phrase, before its search results.",
              "i id, i notes, f beats, s key, f tempo"),
    ReplySpec(f"{_P}/library/progress", "Progress of an index run (at most ~4 a second).",
              "i id, s stage (walk | analyse | embed), i done, i total"),
    ReplySpec(f"{_P}/library/index", "The index run is done.",
              "i id, i files_seen, i added, i updated, i removed, i skipped, i windows (in the library now), "
              "f seconds"),
    ReplySpec(ERROR_ADDRESS, "A request failed (or was not valid OSC).", "i id (-1 when unknown), s reason, s address"),
)

# The jam addresses live in their own table; imported here, after everything they build on is defined.
from bridge.daemon.protocol_live import LIVE_REPLIES, LIVE_REQUESTS  # noqa: E402

PROTOCOL = Protocol(
    requests=MappingProxyType({a.path: a for a in REQUESTS + LIVE_REQUESTS}),
    replies=MappingProxyType({r.path: r for r in REPLIES + LIVE_REPLIES}),
)
