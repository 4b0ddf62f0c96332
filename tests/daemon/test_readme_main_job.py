"""The README's main job, as a musician runs it: `midibridge serve` with no flags on a fresh machine.

No --db and no indexed library: the daemon must index the bundled clips on first use, and the README's
oscsend lines must get hits at oscdump.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from daemon_harness import PYTHON, REPO, LineReader, OscClient, free_udp_port

pytestmark = pytest.mark.skipif(not shutil.which("oscsend"), reason="liblo-tools not installed")


def readme_oscsend_lines() -> list[list[str]]:
    text = (Path(REPO) / "README.md").read_text()
    # The "Try it" lines: oscsend in the ```bash blocks (the Jam section's lines need a MIDI port: ```sh).
    blocks = "\n".join(re.findall(r"```bash\n(.*?)```", text, flags=re.S))
    return [shlex.split(line) for line in re.findall(r"^oscsend .*$", blocks, flags=re.M)]


def test_serve_with_no_flags_indexes_the_bundled_library_and_answers_the_readme_example(tmp_path):
    port, reply_port = free_udp_port(), 9001
    env = dict(os.environ, MIDIBRIDGE_HOME=str(tmp_path / "home"), PYTHONUNBUFFERED="1")
    env.pop("MIDIBRIDGE_DB", None)
    env["JACK_DEFAULT_SERVER"] = f"mb-none-{os.getpid()}"  # no server by that name: MIDI off, OSC on
    log = open(tmp_path / "daemon.log", "wb")
    daemon = subprocess.Popen([PYTHON, "-m", "bridge", "serve", "--port", str(port)], cwd=REPO, env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    dump = subprocess.Popen(["oscdump", "-L", str(reply_port)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    client = OscClient(port)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if client.status().get("library") == "ready":
                    break
            except TimeoutError:  # not listening yet: the request went nowhere
                assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()
            time.sleep(0.2)
        else:
            pytest.fail((tmp_path / "daemon.log").read_text())
        lines = readme_oscsend_lines()
        assert any("/midibridge/search/text" in line for line in lines)
        for argv in lines:
            argv[2] = str(port)  # the README says 9000; the test runs on a free port
            subprocess.run(argv, check=True, timeout=10, env=env)
        got = LineReader(dump.stdout).until(lambda got: any("/midibridge/search/end" in g for g in got), 30)
        hits = [g for g in got if "/midibridge/search/hit" in g]
        assert hits, got
        assert all(str(REPO / "bridge" / "assets" / "library") in h for h in hits)
        assert not [g for g in got if "/midibridge/error" in g], got
    finally:
        client.close()
        dump.terminate()
        daemon.terminate()
        daemon.wait(timeout=15)
        log.close()
