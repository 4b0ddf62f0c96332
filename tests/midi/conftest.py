import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "daemon"))

from daemon_harness import JackServer  # noqa: E402


@pytest.fixture(scope="module")
def jack_server():
    server = JackServer(period=256).start()
    yield server
    server.stop()
