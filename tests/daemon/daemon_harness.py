"""Real parts for daemon and MIDI tests: a JACK dummy server, the daemon subprocess, an OSC client,
and a JACK-Client recorder that stamps every MIDI event with its absolute frame."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pythonosc.osc_message import OscMessage

from bridge.daemon.protocol import Reply
from bridge.daemon.server import build

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
CHORALE = REPO / "bridge" / "assets" / "examples" / "chorale.mid"
_counter = [0]


def unique_name(prefix: str = "mbtest") -> str:
    _counter[0] += 1
    return f"{prefix}-{os.getpid()}-{_counter[0]}"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _remove_shm(name: str) -> None:
    for path in glob.glob(f"/dev/shm/jack_{name}*") + glob.glob(f"/dev/shm/jack_sem.*_{name}_*"):
        try:
            os.unlink(path)
        except OSError:
            pass


class JackServer:
    """jackd with the dummy driver under a unique name; clients find it through JACK_DEFAULT_SERVER."""

    def __init__(self, period: int = 256, rate: int = 48000) -> None:
        self.name = unique_name()
        self.period = period
        self.rate = rate
        self.proc: subprocess.Popen | None = None

    def start(self) -> JackServer:
        if not shutil.which("jackd"):
            raise RuntimeError("jackd not installed (apt install jackd2)")
        _remove_shm(self.name)
        self.proc = subprocess.Popen(
            ["jackd", "-n", self.name, "-R", "-d", "dummy", "-r", str(self.rate), "-p", str(self.period)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["jack_wait", "-s", self.name, "-w", "-t", "10"], check=True, capture_output=True,
                       timeout=15)
        return self

    def env(self) -> dict:
        return {"JACK_DEFAULT_SERVER": self.name, "JACK_NO_START_SERVER": "1"}

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        _remove_shm(self.name)


class OscClient:
    """A plain UDP socket speaking OSC: what a DAW would be, minus the DAW."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.dest = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.bind(("127.0.0.1", 0))

    def send(self, address: str, *args) -> None:
        self.sock.sendto(build(Reply(address, tuple(args))), self.dest)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.dest)

    def receive(self, timeout: float = 5.0) -> OscMessage | None:
        self.sock.settimeout(timeout)
        try:
            data, _ = self.sock.recvfrom(65536)
        except TimeoutError:
            return None
        return OscMessage(data)

    def until(self, address: str, request_id: int, timeout: float = 10.0) -> list[OscMessage]:
        """Every message received until `address` with this request id (inclusive)."""
        got = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.receive(max(0.01, deadline - time.monotonic()))
            if m is None:
                break
            got.append(m)
            if m.address == address and m.params and m.params[0] == request_id:
                return got
        raise TimeoutError(f"no {address} for request {request_id}; got {[(x.address, x.params) for x in got]}")

    def request(self, address: str, *args, reply: str | None = None, timeout: float = 10.0) -> list[OscMessage]:
        self.send(address, *args)
        return self.until(reply or address, args[0], timeout)

    def status(self, request_id: int = 999_001) -> dict:
        msg = self.request("/midibridge/status", request_id)[-1]
        p = msg.params[1:]
        return dict(zip(p[0::2], p[1::2]))

    def close(self) -> None:
        self.sock.close()


@dataclass
class DaemonProcess:
    port: int
    proc: subprocess.Popen
    log_path: Path
    env: dict = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_daemon(tmp: Path, jack: JackServer | None, *extra: str, db: Path | None = None,
                 timeout: float = 30.0) -> DaemonProcess:
    port = free_udp_port()
    env = dict(os.environ, MIDIBRIDGE_HOME=str(tmp / "home"), PYTHONUNBUFFERED="1")
    if jack is not None:
        env.update(jack.env())
    log_path = tmp / f"daemon-{port}.log"
    cmd = [PYTHON, "-m", "bridge", "serve", "--port", str(port), "--log-level", "INFO"]
    cmd += ["--db", str(db)] if db is not None else ["--no-library"]
    cmd += ["--midi-api", "jack"] if jack is not None else []
    cmd += list(extra)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    daemon = DaemonProcess(port, proc, log_path, env)
    client = OscClient(port)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {proc.returncode}:\n{daemon.log()}")
            client.send("/midibridge/ping", 0)
            m = client.receive(0.2)
            if m is not None and m.address == "/midibridge/ping":
                return daemon
        raise RuntimeError(f"daemon not ready after {timeout} s:\n{daemon.log()}")
    except BaseException:
        daemon.stop()
        raise
    finally:
        client.close()


class Recorder:
    """A JACK client whose input port records (absolute frame, bytes) for every MIDI event."""

    def __init__(self, server: str, name: str = "recorder") -> None:
        import jack

        from bridge.midi.queue import unwrap32

        self.client = jack.Client(name, no_start_server=True, servername=server)
        self.port = self.client.midi_inports.register("in")
        self.events: list[tuple[int, bytes]] = []
        self.xruns = 0
        self._t0 = self.client.frame_time
        self._unwrap = unwrap32

        @self.client.set_process_callback
        def process(frames):
            t0 = self._unwrap(self.client.last_frame_time, self._t0)
            self._t0 = t0
            for offset, data in self.port.incoming_midi_events():
                self.events.append((t0 + offset, bytes(data)))

        @self.client.set_xrun_callback
        def xrun(delay):
            self.xruns += 1

        self.client.activate()

    @property
    def name(self) -> str:
        return self.port.name

    def connect_from(self, source: str) -> None:
        self.client.connect(source, self.port.name)

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


def notes_from(events: list[tuple[int, bytes]]) -> tuple[list[tuple[int, int]], set[tuple[int, int]]]:
    """(channel, pitch) of each note-on in order, and the pairs still sounding at the end."""
    ons, sounding = [], set()
    for _, d in events:
        if len(d) == 3 and d[0] & 0xF0 == 0x90 and d[2] > 0:
            ons.append((d[0] & 0x0F, d[1]))
            sounding.add((d[0] & 0x0F, d[1]))
        elif len(d) == 3 and d[0] & 0xF0 in (0x80, 0x90):
            sounding.discard((d[0] & 0x0F, d[1]))
    return ons, sounding


MAX_LOSS_PER_XRUN = 8  # events a JACK xrun may swallow between two clients (see docs/protocol.md, Timing)


def wait_for_events(recorder: Recorder, want: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(recorder.events) < want:
        time.sleep(0.05)


def assert_complete(recorder: Recorder, expected_pitches: list[int], xruns: int, ordered: bool = True) -> None:
    """All notes arrived (in order) with their note-offs; events lost in JACK xruns are tolerated only
    when xruns happened, and then only a few per xrun (the daemon's own tracker is checked separately)."""
    ons, sounding = notes_from(recorder.events)
    got = [p for _, p in ons]
    xruns += recorder.xruns
    if xruns == 0:
        assert (got if ordered else sorted(got)) == (expected_pitches if ordered else sorted(expected_pitches))
        assert not sounding, f"notes left sounding: {sounding}"
    else:
        lost = 2 * len(expected_pitches) - len(recorder.events)
        assert 0 <= lost <= MAX_LOSS_PER_XRUN * xruns, (lost, xruns)
        if ordered and lost == 0:
            assert got == expected_pitches
    frames = [f for f, _ in recorder.events]
    assert frames == sorted(frames)


class Player:
    """A JACK client that plays (seconds from now, bytes) events out of its own port, frame-exact."""

    def __init__(self, server: str, name: str = "player") -> None:
        import heapq

        import jack

        from bridge.midi.queue import unwrap32

        self.client = jack.Client(name, no_start_server=True, servername=server)
        self.port = self.client.midi_outports.register("out")
        self.heap: list[tuple[int, int, bytes]] = []
        self._seq = 0
        self._t0 = self.client.frame_time

        @self.client.set_process_callback
        def process(frames):
            self.port.clear_buffer()
            t0 = unwrap32(self.client.last_frame_time, self._t0)
            self._t0 = t0
            while self.heap and self.heap[0][0] < t0 + frames:
                frame, _, data = heapq.heappop(self.heap)
                self.port.write_midi_event(max(0, frame - t0), data)

        self.client.activate()
        self._push = heapq.heappush
        self._unwrap = unwrap32

    def play(self, events: list[tuple[float, bytes]], lead: float = 0.05) -> int:
        """Queue events at seconds from now (+lead); returns the absolute frame of time 0."""
        now = self._unwrap(self.client.frame_time, self._t0)
        base = now + int(lead * self.client.samplerate)
        for seconds, data in events:
            self._seq += 1
            self._push(self.heap, (base + int(round(seconds * self.client.samplerate)), self._seq, data))
        return base

    def connect_to(self, dest: str) -> None:
        self.client.connect(self.port.name, dest)

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


def make_library(root: Path, chorale: Path) -> Path:
    """A tiny real library: the bundled chorale and two files written here; returns the db dir."""
    from bridge.library import Library
    from bridge.music import NoteList, Piece, TempoChange, TimeSignature, save_midi

    midi = root / "midi"
    midi.mkdir(parents=True, exist_ok=True)
    shutil.copy(chorale, midi / "chorale.mid")
    arpeggio = [0, 3, 7, 12, 7, 3]
    waltz = NoteList.from_tuples([(i * 0.5, 0.5, 57 + arpeggio[i % 6], 70) for i in range(48)])
    save_midi(Piece(notes=waltz, tempos=(TempoChange(0, 72.0),), time_signatures=(TimeSignature(0, 3, 4),)),
              midi / "waltz_a_minor.mid")
    scale = NoteList.from_tuples([(i * 0.25, 0.25, 60 + [0, 2, 4, 5, 7, 9, 11, 12][i % 8], 100) for i in range(64)])
    save_midi(Piece(notes=scale, tempos=(TempoChange(0, 140.0),)), midi / "fast_c_major_scale.mid")
    db = root / "db"
    with Library.open(db) as lib:
        lib.index([midi])
    return db


def wait_library_ready(daemon: DaemonProcess, timeout: float = 30.0) -> dict:
    """The library opens in a worker thread after the daemon answers ping: wait until it has."""
    client = OscClient(daemon.port)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = client.status()
            if status["library"] != "loading":
                return status
            time.sleep(0.1)
        raise TimeoutError("library still loading")
    finally:
        client.close()


class LineReader:
    """Lines of a subprocess stream, read by a thread (select + buffered readline would lose lines)."""

    def __init__(self, stream) -> None:
        import queue
        import threading

        self.lines: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def until(self, predicate, timeout: float) -> list[str]:
        import queue

        got: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            got.append(line)
            if predicate(got):
                break
        return got
