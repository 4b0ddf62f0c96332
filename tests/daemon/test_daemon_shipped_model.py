"""With the shipped retrieval model installed, the daemon searches by embedding (skips until it ships)."""

from __future__ import annotations

import pytest
from daemon_harness import CHORALE, OscClient, make_library, start_daemon, wait_library_ready

from bridge.inference.retrieval import TEXT_CONFIG, default_model_dir

pytestmark = pytest.mark.skipif(not (default_model_dir() / TEXT_CONFIG).is_file(),
                                reason="no retrieval model shipped in bridge/assets/models/retrieval yet")


def test_daemon_uses_the_shipped_model(tmp_path):
    from bridge.inference import RetrievalEncoders
    from bridge.library import Library

    db = make_library(tmp_path / "lib", CHORALE)
    encoder = RetrievalEncoders.load()
    with Library.open(db, encoder=encoder) as lib:
        lib.index([tmp_path / "lib" / "midi"])  # embed the windows with this model
    daemon = start_daemon(tmp_path, None, "--midi-api", "none", db=db)
    try:
        status = wait_library_ready(daemon, timeout=120)
        assert status["library"] == "ready" and status["models"] == encoder.name
        client = OscClient(daemon.port)
        msgs = client.request("/midibridge/search/text", 1, 3, "a waltz in A minor", reply="/midibridge/search/end",
                              timeout=60)
        assert msgs[-1].params[1] == 3
        msgs = client.request("/midibridge/search/example", 2, 2, str(tmp_path / "lib" / "midi" / "chorale.mid"),
                              reply="/midibridge/search/end", timeout=60)
        assert msgs[-1].params[1] == 2
        client.close()
    finally:
        daemon.stop()
