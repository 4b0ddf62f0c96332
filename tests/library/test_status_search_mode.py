"""The daemon's status says `approximate (...)` once the worker's background build of the approximate index
finishes, without a search in between (bridge.daemon.search_service polls the worker while it builds)."""

from __future__ import annotations

import asyncio
import time

import pytest

from bridge import paths
from bridge.library import Library, ann

pytest.importorskip("faiss")


def test_status_search_refreshes_after_a_background_build(tmp_path, monkeypatch, shipped_encoder):
    from bridge.daemon import search_service
    from bridge.daemon.worker import LibrarySpec
    encoder = shipped_encoder
    monkeypatch.setenv(ann.ENV_MIN_WINDOWS, str(10**9))  # index without building the approximate index
    with Library.open(tmp_path / "db", encoder=encoder) as lib:
        lib.index([paths.bundled_library_dir()], workers=1)
    monkeypatch.setenv(ann.ENV_MIN_WINDOWS, "0")  # now every library is searched approximately
    real_build = ann.build

    def slow_build(*args, **kwargs):  # long enough for the status to be read while it runs
        time.sleep(1.0)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(ann, "build", slow_build)
    monkeypatch.setattr(search_service, "BUILD_POLL", 0.2)

    async def run() -> tuple[str, str]:
        service = search_service.SearchService(LibrarySpec(db=tmp_path / "db", index_bundled=False), mode="thread")
        try:
            await service.start()
            first = service.status()["search"]
            for _ in range(300):
                if service.status()["search"].startswith("approximate"):
                    break
                await asyncio.sleep(0.1)
            return first, service.status()["search"]
        finally:
            service.close()

    first, later = asyncio.run(run())
    assert first == "exact (approximate index being built)"
    assert later.startswith("approximate (faiss, ")
