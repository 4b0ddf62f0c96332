"""MIDI transports: the daemon's own "in" and "out" ports, and what writes to them on time.

`MidiIO` holds the public API (open/close/now/submit/cancel/drain_input/list_ports/connect) and
leaves `_` hooks to the backends:

- `JackMidiIO` (JACK-Client): output is written inside the JACK process callback at each event's
  frame offset, so timing is sample-accurate; input arrives frame-stamped (MIDI clock follows exactly).
- `RtMidiIO` (python-rtmidi: ALSA, CoreMIDI, Windows MIDI, or JACK through rtmidi): a dedicated
  sender thread sleeps until each event is due.
- `NullMidiIO`: no MIDI API here. The daemon keeps serving OSC and says why in status.

Only the writer (callback or sender thread) touches the output port and the note tracker, so
every note-on it writes is known and gets its note-off on cancel/close.
"""

from __future__ import annotations

import heapq
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass

from bridge.midi.notes import NoteTracker, panic_all
from bridge.midi.queue import EventQueue, unwrap32

log = logging.getLogger(__name__)

MAX_EVENTS_PER_PERIOD = 1000  # JACK drops bursts beyond ~2500 per period; the rest go out next period
INBOX_LIMIT = 10_000  # incoming events kept until the daemon drains them (every ~10 ms)


class MidiUnavailable(RuntimeError):
    """No usable MIDI API; the message says which and why."""


@dataclass(frozen=True)
class PortInfo:
    kind: str  # "own_in" | "own_out" | "source" (can feed our in) | "sink" (can receive our out)
    name: str
    connected: bool


class MidiIO:
    """Base class: public methods here, backends fill in the `_` hooks."""

    backend = "none"
    rate: float = 1_000_000.0  # ticks per second

    def __init__(self, client_name: str = "midibridge") -> None:
        self.client_name = client_name
        self.queue = EventQueue()
        self.tracker = NoteTracker()
        self.inbox: deque[tuple[int, bytes]] = deque(maxlen=INBOX_LIMIT)
        self.opened = False
        self.release_requested = False
        self.panic_requested = 0  # 1: All Notes/Sound Off on the channels used, 2: on all 16 channels
        # Counters written only by the writer thread; read (racily, that is fine) for status.
        self.sent = 0
        self.late = 0
        self.dropped = 0
        self.writer_errors = 0
        self.xruns = 0
        self.problem = ""  # why this backend is not (or no longer) usable

    # public API
    def open(self) -> None:
        self._open()
        self.opened = True
        if self.own_port_names():
            log.info("MIDI backend %s open: %s", self.backend, ", ".join(self.own_port_names()))

    def close(self, timeout: float = 1.0) -> None:
        """Release every sounding note, wait until the writer has sent the note-offs, then close."""
        if not self.opened:
            return
        self.cancel()
        deadline = time.monotonic() + timeout
        while (self.release_requested or len(self.tracker)) and time.monotonic() < deadline:
            time.sleep(0.005)
        self._close()
        self.opened = False

    def now(self) -> int:
        return self._now()

    def submit(self, events: list[tuple[int, bytes]]) -> None:
        """Queue (tick, bytes) events for output; ticks are absolute in this backend's clock."""
        for tick, data in events:
            self.queue.push(tick, data)
        self._wake()

    def cancel(self) -> int:
        """Drop everything queued and have the writer send note-offs for every sounding note."""
        n = self.queue.clear()
        self.release_requested = True
        self._wake()
        return n

    def panic(self, every_channel: bool = False) -> int:
        """Drop everything queued; the writer sends note-offs for what sounds, then All Notes Off and All
        Sound Off on every channel used (or on all 16: for notes a killed earlier daemon left sounding)."""
        n = self.queue.clear()
        self.panic_requested = 2 if every_channel else max(self.panic_requested, 1)
        self.release_requested = True
        self._wake()
        return n

    def _release_messages(self) -> list[bytes]:
        """Writer side: what a release or panic request sends now (called only by the writer)."""
        panic, self.panic_requested = self.panic_requested, 0
        if panic == 2:
            return self.tracker.release_all() + panic_all()
        if panic == 1:
            return self.tracker.panic_messages()
        return self.tracker.release_all()

    def drain_input(self) -> list[tuple[int, bytes]]:
        out = []
        while self.inbox:
            out.append(self.inbox.popleft())
        return out

    def own_port_names(self) -> list[str]:
        return self._own_port_names()

    def list_ports(self) -> list[PortInfo]:
        return self._list_ports() if self.opened else []

    def connect(self, direction: str, port: str) -> None:
        self._connect(direction, port, True)

    def disconnect(self, direction: str, port: str) -> None:
        self._connect(direction, port, False)

    def status(self) -> dict:
        return {
            "backend": self.backend,
            "ports": self.own_port_names() if self.opened else [],
            "problem": self.problem,
            "queued": len(self.queue),
            "sounding": len(self.tracker),
            "sent": self.sent,
            "late": self.late,
            "dropped": self.dropped,
            "xruns": self.xruns,
            "writer_errors": self.writer_errors,
        }

    # hooks
    def _open(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        pass

    def _now(self) -> int:
        return time.monotonic_ns() // 1000

    def _wake(self) -> None:
        pass

    def _own_port_names(self) -> list[str]:
        return []

    def _list_ports(self) -> list[PortInfo]:
        return []

    def _connect(self, direction: str, port: str, connect: bool) -> None:
        raise MidiUnavailable(f"no MIDI backend: {self.problem or 'none selected'}")


class NullMidiIO(MidiIO):
    """No MIDI at all: queued events are discarded, nothing sounds, OSC keeps working."""

    backend = "none"

    def __init__(self, problem: str, client_name: str = "midibridge") -> None:
        super().__init__(client_name)
        self.problem = problem

    def _open(self) -> None:
        log.warning("no MIDI output: %s (OSC keeps serving)", self.problem)

    def submit(self, events: list[tuple[int, bytes]]) -> None:
        self.dropped += len(events)

    def cancel(self) -> int:
        return 0

    def panic(self, every_channel: bool = False) -> int:
        return 0


class JackMidiIO(MidiIO):
    """Sample-accurate output from the JACK process callback."""

    backend = "jack"

    def __init__(self, client_name: str = "midibridge", server: str | None = None) -> None:
        super().__init__(client_name)
        self.server = server or os.environ.get("JACK_DEFAULT_SERVER") or None
        self._client = None
        self._t0 = 0  # unwrapped frame time of the current/last period
        self._repeat: list[bytes] = []  # note-offs to send once more in the next period
        # Extra output ports ("midibridge:melody"...): a channel routed to one goes out there instead of "out".
        # A tuple of 16 ports (None: "out"), swapped whole so the callback never sees a half-made table.
        self._extra_ports: dict[str, object] = {}
        self._route: tuple = (None,) * 16

    def add_output_port(self, name: str, channels: set[int] | frozenset[int]) -> str:
        """Register (once) an output port `name` and send these channels through it; returns its full name."""
        if self._client is None:
            raise MidiUnavailable(self.problem or "JACK client closed")
        port = self._extra_ports.get(name)
        if port is None:
            port = self._client.midi_outports.register(name)
            self._extra_ports[name] = port
        route = list(self._route)
        for ch in range(16):
            if route[ch] is port:
                route[ch] = None
        for ch in channels:
            route[ch] = port
        self._route = tuple(route)
        return port.name

    def _open(self) -> None:
        try:
            import jack
        except ImportError as e:  # pragma: no cover - JACK-Client is a runtime dependency
            raise MidiUnavailable(f"JACK-Client not installed: {e}") from e
        try:
            client = jack.Client(self.client_name, no_start_server=True, servername=self.server)
        except Exception as e:  # JackOpenError, or OSError when libjack itself is missing
            raise MidiUnavailable(f"no JACK server {self.server or 'default'!r} running ({e})") from e
        self._client = client
        self.rate = float(client.samplerate)
        self._in = client.midi_inports.register("in")
        self._out = client.midi_outports.register("out")
        self._t0 = client.frame_time
        client.set_process_callback(self._process)
        client.set_xrun_callback(self._xrun)
        client.set_shutdown_callback(self._shutdown)
        client.activate()

    def _process(self, frames: int) -> None:
        # Real-time thread: no allocation beyond what MIDI needs, no logging, no locks, no I/O.
        try:
            out = self._out
            out.clear_buffer()
            for port in self._extra_ports.values():
                port.clear_buffer()
            route = self._route
            t0 = unwrap32(self._client.last_frame_time, self._t0)
            self._t0 = t0
            for offset, data in self._in.incoming_midi_events():
                self.inbox.append((t0 + offset, bytes(data)))
            tracker = self.tracker
            if self.release_requested:
                offs = self._release_messages()
                for data in offs:
                    ((route[data[0] & 0x0F] if data[0] < 0xF0 else None) or out).write_midi_event(0, data)
                # Sent again next period: a period lost in an xrun must not leave a note hanging.
                self._repeat = offs
                self.release_requested = False
            elif self._repeat:
                for data in self._repeat:
                    ((route[data[0] & 0x0F] if data[0] < 0xF0 else None) or out).write_midi_event(0, data)
                self._repeat = []
            heap = self.queue.heap
            end = t0 + frames
            n = 0
            while heap and heap[0][0] < end and n < MAX_EVENTS_PER_PERIOD:
                tick, _, data = heapq.heappop(heap)
                offset = tick - t0
                if offset < 0:
                    offset = 0
                    self.late += 1
                if not tracker.track(data):
                    continue  # a note-off for a note another owner still holds
                try:
                    ((route[data[0] & 0x0F] if data[0] < 0xF0 else None) or out).write_midi_event(offset, data)
                except Exception:
                    self.dropped += 1
                    continue
                n += 1
            self.sent += n
        except Exception:
            self.writer_errors += 1

    def _xrun(self, delay_usecs: float) -> None:
        self.xruns += 1

    def _shutdown(self, status, reason: str) -> None:
        self.problem = f"JACK server shut down: {reason}"
        self.opened = False

    def _now(self) -> int:
        if self._client is None:
            return super()._now()
        return unwrap32(self._client.frame_time, self._t0)

    def _close(self) -> None:
        if self._client is not None:
            try:
                self._client.deactivate()
                self._client.close()
            except Exception as e:
                log.debug("JACK close: %s", e)
            self._client = None

    def close(self, timeout: float = 1.0) -> None:
        if self.opened and self._client is not None:
            self.cancel()
            deadline = time.monotonic() + timeout
            while (self.release_requested or self._repeat) and time.monotonic() < deadline:
                time.sleep(0.002)
            # One more period so the last buffer written has been read by the clients downstream.
            time.sleep(2 * self._client.blocksize / self.rate)
            self._close()
            self.opened = False
        else:
            self._close()

    def _own_port_names(self) -> list[str]:
        if self._client is None:
            return []
        return [self._in.name, self._out.name] + [p.name for p in self._extra_ports.values()]

    def _list_ports(self) -> list[PortInfo]:
        client = self._client
        own_in, own_out = self._in.name, self._out.name
        into = {p.name for p in client.get_all_connections(self._in)}
        outof = {p.name for p in client.get_all_connections(self._out)}
        ports = [PortInfo("own_in", own_in, bool(into)), PortInfo("own_out", own_out, bool(outof))]
        extra = {port.name for port in self._extra_ports.values()}
        for p in client.get_ports(is_midi=True, is_output=True):
            if p.name in extra:
                ports.append(PortInfo("own_out", p.name, bool(client.get_all_connections(p))))
            elif p.name != own_out:
                ports.append(PortInfo("source", p.name, p.name in into))
        for p in client.get_ports(is_midi=True, is_input=True):
            if p.name != own_in:
                ports.append(PortInfo("sink", p.name, p.name in outof))
        return ports

    def _connect(self, direction: str, port: str, connect: bool) -> None:
        client = self._client
        if client is None:
            raise MidiUnavailable(self.problem or "JACK client closed")
        names = {p.name for p in client.get_ports(is_midi=True)}
        if port not in names:
            raise MidiUnavailable(f"no MIDI port named {port!r}; /midibridge/ports/list shows the names")
        src, dst = (port, self._in.name) if direction == "in" else (self._out.name, port)
        if connect:
            client.connect(src, dst)
        else:
            client.disconnect(src, dst)


class RtMidiIO(MidiIO):
    """python-rtmidi with a dedicated sender thread (ALSA, CoreMIDI, Windows MIDI, or rtmidi's JACK)."""

    APIS = {"alsa": "API_LINUX_ALSA", "coremidi": "API_MACOSX_CORE", "winmm": "API_WINDOWS_MM",
            "rtmidi-jack": "API_UNIX_JACK"}

    def __init__(self, api: str, client_name: str = "midibridge") -> None:
        super().__init__(client_name)
        self.api = api
        self.backend = f"rtmidi-{api}" if not api.startswith("rtmidi") else api
        self.rate = 1_000_000.0
        self._cond = threading.Condition()
        self._running = False
        self._thread: threading.Thread | None = None
        self._extra_out: dict[str, object] = {}
        self._extra_in: dict[str, object] = {}
        self._virtual = True

    def _open(self) -> None:
        try:
            import rtmidi
        except ImportError as e:  # pragma: no cover - runtime dependency
            raise MidiUnavailable(f"python-rtmidi not installed: {e}") from e
        api = getattr(rtmidi, self.APIS[self.api], None)
        if api is None or api not in rtmidi.get_compiled_api():
            raise MidiUnavailable(f"python-rtmidi was built without the {self.api} API")
        self._rtmidi = rtmidi
        self._api = api
        try:
            self._midi_out = rtmidi.MidiOut(rtapi=api, name=self.client_name)
            self._midi_in = rtmidi.MidiIn(rtapi=api, name=self.client_name)
        except Exception as e:  # SystemError/RuntimeError when the API cannot start here
            raise MidiUnavailable(f"{self.api} MIDI unavailable: {e}") from e
        self._midi_in.ignore_types(sysex=True, timing=False, active_sense=True)
        self._midi_in.set_callback(self._incoming)
        try:
            self._midi_out.open_virtual_port("out")
            self._midi_in.open_virtual_port("in")
        except NotImplementedError:
            # Windows MIDI has no virtual ports: connect to existing ones (e.g. loopMIDI) by name.
            self._virtual = False
        self._running = True
        self._thread = threading.Thread(target=self._sender, name="midibridge-midi-out", daemon=True)
        self._thread.start()

    def _incoming(self, event, data=None) -> None:
        message, _delta = event
        self.inbox.append((self._now(), bytes(message)))

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify()

    def _sender(self) -> None:
        # Only this thread writes MIDI: no inference, no file I/O, no log formatting here.
        heap = self.queue.heap
        tracker = self.tracker
        while self._running:
            heap = self.queue.heap
            if self.release_requested:
                for data in self._release_messages():
                    self._write(data)
                self.release_requested = False
            now = self._now()
            if heap and heap[0][0] <= now:
                tick, _, data = heapq.heappop(heap)
                if now - tick > 2000:  # more than 2 ms behind schedule
                    self.late += 1
                if tracker.track(data):  # False: a note-off for a note another owner still holds
                    self._write(data)
                    self.sent += 1
                continue
            wait = (heap[0][0] - now) / self.rate if heap else 0.05
            with self._cond:
                self._cond.wait(timeout=min(max(wait, 0.0), 0.05))

    def _write(self, data: bytes) -> None:
        try:
            if self._virtual:
                self._midi_out.send_message(data)
            for port in self._extra_out.values():
                port.send_message(data)
        except Exception:
            self.writer_errors += 1

    def _close(self) -> None:
        self._running = False
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        for port in [*self._extra_out.values(), *self._extra_in.values(), self._midi_out, self._midi_in]:
            try:
                port.close_port()
                port.delete()
            except Exception as e:
                log.debug("rtmidi close: %s", e)

    def _own_port_names(self) -> list[str]:
        return [f"{self.client_name}:in", f"{self.client_name}:out"] if self._virtual else []

    def _list_ports(self) -> list[PortInfo]:
        ports = [PortInfo("own_in", f"{self.client_name}:in", bool(self._extra_in)),
                 PortInfo("own_out", f"{self.client_name}:out", bool(self._extra_out))]
        ports += [PortInfo("source", n, n in self._extra_in) for n in self._midi_in.get_ports()]
        ports += [PortInfo("sink", n, n in self._extra_out) for n in self._midi_out.get_ports()]
        return ports

    def _connect(self, direction: str, port: str, connect: bool) -> None:
        probe = self._midi_in if direction == "in" else self._midi_out
        names = probe.get_ports()
        if port not in names:
            raise MidiUnavailable(f"no MIDI port named {port!r}; /midibridge/ports/list shows the names")
        table = self._extra_in if direction == "in" else self._extra_out
        if not connect:
            p = table.pop(port, None)
            if p is not None:
                p.close_port()
            return
        if port in table:
            return
        cls = self._rtmidi.MidiIn if direction == "in" else self._rtmidi.MidiOut
        p = cls(rtapi=self._api, name=self.client_name)
        p.open_port(names.index(port))
        if direction == "in":
            p.ignore_types(sysex=True, timing=False, active_sense=True)
            p.set_callback(self._incoming)
        table[port] = p


def _jack_running(server: str | None) -> bool:
    """Ask jack_lsp first: opening a client without a server makes libjack print to stderr."""
    import shutil
    import subprocess

    exe = shutil.which("jack_lsp")
    if exe is None:
        return True  # cannot tell: let JackMidiIO try
    env = dict(os.environ, JACK_NO_START_SERVER="1")
    if server:
        env["JACK_DEFAULT_SERVER"] = server
    try:
        return subprocess.run([exe], capture_output=True, timeout=3, env=env).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def open_midi(api: str = "auto", client_name: str = "midibridge", jack_server: str | None = None) -> MidiIO:
    """Open the requested backend; on failure return a NullMidiIO that says why (never raises)."""
    candidates: list[MidiIO]
    problems: list[str] = []
    if api == "none":
        io: MidiIO = NullMidiIO("MIDI disabled (--midi-api none)", client_name)
        io.open()
        return io
    if api == "jack":
        candidates = [JackMidiIO(client_name, jack_server)]
    elif api in RtMidiIO.APIS:
        candidates = [RtMidiIO(api, client_name)]
    else:  # auto: JACK when a server runs (sample-accurate), else the platform's own MIDI API
        candidates = [RtMidiIO("alsa", client_name), RtMidiIO("coremidi", client_name),
                      RtMidiIO("winmm", client_name)]
        if _jack_running(jack_server):
            candidates.insert(0, JackMidiIO(client_name, jack_server))
        else:
            problems.append(f"no JACK server {jack_server or os.environ.get('JACK_DEFAULT_SERVER') or 'default'!r}")
    for io in candidates:
        try:
            io.open()
            return io
        except MidiUnavailable as e:
            problems.append(str(e))
    null = NullMidiIO("; ".join(problems), client_name)
    null.open()
    return null
