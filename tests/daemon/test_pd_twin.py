"""The Pure Data twin, headless, sends a search to the daemon and prints the hits it receives."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from daemon_harness import CHORALE, REPO, LineReader, free_udp_port, make_library, start_daemon, wait_library_ready

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
