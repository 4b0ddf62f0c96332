"""One real daemon for the web tests: a JACK dummy server, a tiny library, the daemon subprocess with its web
page on a free port (found through the OSC status, as `web_url`)."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))

from daemon_harness import (  # noqa: E402
    CHORALE,
    JackServer,
    OscClient,
    make_library,
    start_daemon,
    wait_library_ready,
)


def web_url_of(daemon, timeout: float = 20.0) -> str:
    client = OscClient(daemon.port)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            url = client.status().get("web_url")
            if url:
                return str(url).rstrip("/")
            time.sleep(0.1)
        raise TimeoutError(f"no web_url in the daemon's status:\n{daemon.log()}")
    finally:
        client.close()


@pytest.fixture(scope="session")
def jack():
    if not shutil.which("jackd"):
        yield None  # the daemon then runs without MIDI; tests that need JACK skip
        return
    server = JackServer(period=256).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def library_db(tmp_path_factory):
    return make_library(tmp_path_factory.mktemp("weblib"), CHORALE)


@pytest.fixture(scope="session")
def web_daemon(jack, library_db, tmp_path_factory):
    d = start_daemon(tmp_path_factory.mktemp("webdaemon"), jack, "--no-model", "--web-port", "0",
                     *(() if jack is not None else ("--midi-api", "none")), db=library_db)
    try:
        wait_library_ready(d)
        d.web_url = web_url_of(d)
        yield d
    finally:
        d.stop()


@pytest.fixture(scope="session")
def base_url(web_daemon) -> str:
    return web_daemon.web_url


@pytest.fixture
def api(base_url):
    httpx = pytest.importorskip("httpx", reason="httpx is in the dev extra (pip install -e '.[dev]')")
    with httpx.Client(base_url=base_url, timeout=60) as client:
        yield client


@pytest.fixture
def osc(web_daemon):
    client = OscClient(web_daemon.port)
    yield client
    client.close()
