"""The README's first command, as a new user runs it: a fresh clone, a fresh HOME, `bash scripts/serve.sh`.

The command is read from the README (its first line in the first code block) and run verbatim; only the OSC
port comes from the environment ($MIDIBRIDGE_PORT), so the test never collides with a daemon on 9000. The
daemon must answer /midibridge/ping, answer the README's "Try it" search with hits at oscdump, and stop on
SIGTERM. A second run with nothing changed must not reinstall anything.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which("oscsend") or not shutil.which("git"), reason="needs liblo-tools and git"),
    pytest.mark.skipif(not (REPO / ".git").exists(), reason="not a git checkout"),
]


def readme_code_lines() -> list[str]:
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def first_command() -> str:
    return readme_code_lines()[0]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ping(port: int, timeout: float = 0.5) -> bool:
    from pythonosc.osc_message import OscMessage

    from bridge.daemon.protocol import Reply
    from bridge.daemon.server import build

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(timeout)
        s.sendto(build(Reply("/midibridge/ping", (1,))), ("127.0.0.1", port))
        try:
            data, _ = s.recvfrom(65536)
        except (TimeoutError, ConnectionRefusedError):
            return False
    return OscMessage(data).address == "/midibridge/ping"


def clean_env(home: Path, port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIDIBRIDGE_", "VIRTUAL_ENV", "PYTHON"))}
    # The venv of the test run must not leak into the clone's setup.
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    # pip's wheel cache lives under HOME: keep the machine's, so a fresh HOME does not re-download everything.
    real_cache = Path(os.environ.get("PIP_CACHE_DIR", Path.home() / ".cache" / "pip"))
    if real_cache.is_dir():
        env["PIP_CACHE_DIR"] = str(real_cache)
    env.update(HOME=str(home), MIDIBRIDGE_PORT=str(port), PYTHONUNBUFFERED="1")
    return env


class Served:
    """The README's first line running in the clone, its output in a log file."""

    def __init__(self, clone: Path, env: dict, log: Path) -> None:
        self.log_path = log
        self._log = open(log, "wb")
        self.proc = subprocess.Popen(["bash", "-c", first_command()], cwd=clone, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ping(self, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"serve.sh exited {self.proc.returncode}:\n{self.log()[-4000:]}"
            if ping(port):
                return
            time.sleep(0.25)
        pytest.fail(f"no ping reply within {timeout} s:\n{self.log()[-4000:]}")

    def terminate(self) -> int:
        # serve.sh execs the daemon, so the process started is the daemon itself by now.
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            rc = self.proc.wait()
        self._log.close()
        return rc


def test_readme_first_command_starts_the_daemon_from_a_fresh_clone(tmp_path):
    assert first_command().startswith("bash scripts/serve.sh"), first_command()
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    assert not (clone / ".venv").exists() and not (clone / ".venv").is_symlink()
    port, dump_port = free_udp_port(), free_udp_port()
    env = clean_env(tmp_path / "home", port)
    (tmp_path / "home").mkdir()

    served = Served(clone, env, tmp_path / "first.log")
    dump = subprocess.Popen(["oscdump", "-L", str(dump_port)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    try:
        served.wait_ping(port, timeout=900)  # the first run creates the venv and installs the runtime
        # The README's "Try it" lines, on this run's ports instead of 9000 / 9001.
        for line in readme_code_lines():
            if not line.startswith("oscsend"):
                continue
            argv = [a.replace("9000", str(port)).replace("9001", str(dump_port)) for a in shlex.split(line)]
            subprocess.run(argv, check=True, timeout=10, env=env)
        got: list[str] = []
        deadline = time.monotonic() + 60
        os.set_blocking(dump.stdout.fileno(), False)
        while time.monotonic() < deadline and not any("/midibridge/search/end" in g for g in got):
            line = dump.stdout.readline()
            if line:
                got.append(line)
            else:
                time.sleep(0.05)
        hits = [g for g in got if "/midibridge/search/hit" in g]
        assert hits, (got, served.log()[-3000:])
        assert not [g for g in got if "/midibridge/error" in g], got
        assert str(clone / "bridge" / "assets" / "library") in hits[0] or "assets/library" in hits[0]
    finally:
        dump.terminate()
        rc = served.terminate()
    first_log = served.log()
    assert rc == 0, first_log[-3000:]
    assert "Traceback" not in first_log, first_log[-3000:]
    # doctor checked the port being served, not 9000.
    assert f"127.0.0.1:{port}" in first_log, first_log[:3000]

    # A second run with nothing changed installs nothing and serves again.
    again = Served(clone, env, tmp_path / "second.log")
    try:
        again.wait_ping(port, timeout=120)
    finally:
        rc = again.terminate()
    second_log = again.log()
    assert rc == 0, second_log[-3000:]
    assert "is up to date" in second_log, second_log[:3000]
