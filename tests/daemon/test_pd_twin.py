"""The Pure Data twin, headless, against a real daemon: it searches and prints the hits; its Jam panel starts a
stream, receives /midibridge/generate/bar, shows the chord sounding now, steers the stream and stops it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest
from daemon_harness import (
    CHORALE,
    REPO,
    LineReader,
    OscClient,
    free_udp_port,
    make_library,
    start_daemon,
    wait_library_ready,
)

pytestmark = pytest.mark.skipif(not shutil.which("pd"), reason="puredata not installed")

WRAPPER = """#N canvas 0 0 450 300 12;
#X obj 10 10 midibridge;
#X obj 10 40 loadbang;
#X obj 10 70 t b b b;
#X msg 200 100 disconnect \\, connect 127.0.0.1 {port};
#X obj 200 130 s mb-net;
#X msg 100 160 listen {reply};
#X obj 100 190 s mb-listen;
#X obj 10 100 delay 300;
#X msg 10 130 reply_port 1 {reply} \\, search 42 3 a waltz in A minor;
#X obj 10 220 s mb-cmd;
#X connect 1 0 2 0;
#X connect 2 0 7 0;
#X connect 2 1 5 0;
#X connect 2 2 3 0;
#X connect 3 0 4 0;
#X connect 5 0 6 0;
#X connect 7 0 8 0;
#X connect 8 0 9 0;
"""


def test_pd_twin_searches_and_receives_hits(tmp_path):
    db = make_library(tmp_path / "lib", CHORALE)
    daemon = start_daemon(tmp_path, None, "--midi-api", "none", "--no-model", db=db)
    assert wait_library_ready(daemon)["library"] == "ready"
    reply = free_udp_port()
    wrapper = tmp_path / "pd_search_test.pd"
    wrapper.write_text(WRAPPER.format(port=daemon.port, reply=reply))
    pd = subprocess.Popen(
        ["pd", "-nogui", "-nosound", "-nomidi", "-stderr", "-path", str(REPO / "max_patches" / "pd"),
         "-open", str(wrapper)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        lines = LineReader(pd.stderr).until(lambda got: "search end 42" in got[-1], timeout=20)
    finally:
        pd.terminate()
        pd.wait(timeout=5)
        daemon.stop()
    hits = [line for line in lines if line.startswith("midibridge: search hit 42")]
    assert len(hits) == 3, lines
    assert "waltz_a_minor.mid" in hits[0]
    assert any(line.startswith("midibridge: reply_port 1") for line in lines)


JAM_WRAPPER = """#N canvas 0 0 450 300 12;
#X obj 10 10 midibridge;
#X obj 10 40 loadbang;
#X obj 10 70 t b b b;
#X msg 200 100 disconnect \\, connect 127.0.0.1 {port};
#X obj 200 130 s mb-net;
#X msg 100 160 listen {reply};
#X obj 100 190 s mb-listen;
#X obj 10 100 delay 300;
#X msg 10 130 reply_port 1 {reply};
#X obj 10 220 s mb-cmd;
#X obj 300 10 netreceive -u {control};
#X obj 300 40 s mb-jam;
#X connect 1 0 2 0;
#X connect 2 0 7 0;
#X connect 2 1 5 0;
#X connect 2 2 3 0;
#X connect 3 0 4 0;
#X connect 5 0 6 0;
#X connect 7 0 8 0;
#X connect 8 0 9 0;
#X connect 10 0 11 0;
"""


class PdJam:
    """The twin in a headless Pd; `panel` sends FUDI messages to its [r mb-jam] as the panel's boxes do."""

    def __init__(self, tmp_path, daemon_port: int) -> None:
        self.control = free_udp_port()
        wrapper = tmp_path / "pd_jam_test.pd"
        wrapper.write_text(JAM_WRAPPER.format(port=daemon_port, reply=free_udp_port(), control=self.control))
        self.proc = subprocess.Popen(
            ["pd", "-nogui", "-nosound", "-nomidi", "-stderr", "-path", str(REPO / "max_patches" / "pd"),
             "-open", str(wrapper)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.reader = LineReader(self.proc.stderr)
        self.lines: list[str] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def panel(self, message: str) -> None:
        self.sock.sendto(f"{message};\n".encode(), ("127.0.0.1", self.control))

    def wait(self, predicate, timeout: float, what: str) -> str:
        """The first line (from now on, or already read) for which predicate holds."""
        for line in self.lines:
            if predicate(line):
                return line
        got = self.reader.until(lambda lines: predicate(lines[-1]), timeout)
        self.lines += got
        if not got or not predicate(got[-1]):
            raise AssertionError(f"no {what} from the Pd twin; it printed:\n" + "\n".join(self.lines[-40:]))
        return got[-1]

    def close(self) -> None:
        self.sock.close()
        self.proc.terminate()
        self.proc.wait(timeout=5)


def unescape(line: str) -> str:
    return line.replace("\\ ", " ")


@pytest.mark.skipif(not shutil.which("jackd"), reason="jackd not installed (a stream needs a MIDI backend)")
def test_pd_jam_panel_starts_a_stream_shows_its_chords_steers_and_stops_it(tmp_path, jack_server):
    daemon = start_daemon(tmp_path, jack_server, "--no-web", "--bpm", "120")
    client = OscClient(daemon.port)
    pd = None
    try:
        deadline = time.monotonic() + 30
        while client.status().get("jam") is None and time.monotonic() < deadline:
            time.sleep(0.1)
        pd = PdJam(tmp_path, daemon.port)
        pd.wait(lambda ln: ln.startswith("midibridge: reply_port 1"), 20, "reply_port reply")
        pd.panel("listen")
        pd.wait(lambda ln: ln.startswith("midibridge: generate state 33"), 10, "listen state")
        for message in ("prompt a calm hymn at 120 bpm", "key D-minor", "temperature 0.7", "density 2", "play 1"):
            pd.panel(message)
        start = unescape(pd.wait(lambda ln: ln.startswith("midibridge: generate start 30"), 30, "start reply"))
        assert " D minor 4/4 " in start, start
        bar = unescape(pd.wait(lambda ln: ln.startswith("midibridge: generate bar 33 0 "), 30, "first bar"))
        chords = bar.split()[6:-2]  # midibridge: generate bar id 0 start_beat <chords...> roles held
        assert chords, bar
        # The chord display follows the daemon's beat: the first chord shown is the first beat's.
        now = pd.wait(lambda ln: ln.startswith("midibridge-chord: symbol") and "symbol -" not in ln, 20,
                      "current chord")
        assert now.split()[-1] == chords[0], (now, bar)
        # ... shown when its bar sounds, not when it was announced (a bar is announced up to a bar ahead).
        beat_when_shown = client.request("/midibridge/tempo/get", 77)[-1].params[3]
        assert beat_when_shown >= float(bar.split()[5]) - 0.25, (beat_when_shown, bar)
        # A control changed while playing goes out as generate/set (from the next bar line).
        pd.panel("temperature 0.5")
        pd.wait(lambda ln: ln.startswith("midibridge: generate set 32"), 10, "set reply")
        pd.panel("play 0")
        pd.wait(lambda ln: ln.startswith("midibridge: generate stop 31"), 10, "stop reply")
        pd.wait(lambda ln: ln.startswith("midibridge: generate state 33 state stopped"), 10, "stopped state")
        # Stop releases every note: the note-offs go out in the next JACK periods, so poll (bounded) for them.
        deadline = time.monotonic() + 5
        status = client.status()
        while status["sounding"] and time.monotonic() < deadline:
            time.sleep(0.05)
            status = client.status()
        assert status["jam"] == "stopped" and status["sounding"] == 0, status
        assert status["errors"] == 0, [ln for ln in pd.lines if "error" in ln]
        assert status["jam_bars"] >= 1
    finally:
        if pd is not None:
            pd.close()
        client.close()
        daemon.stop()
