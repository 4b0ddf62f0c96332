"""kill -9 during an index run: the previous index stays searchable and the next run completes."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

from library_helpers import copy_good_files

from bridge.library import Library, SearchQuery


def _generation(db) -> int:
    try:
        with sqlite3.connect(db / "library.sqlite", timeout=5) as conn:
            return int(conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
    except sqlite3.Error:
        return -1


def test_sigkill_mid_run_keeps_previous_index_and_next_run_completes(tmp_path):
    lib_dir = tmp_path / "midi"
    first = copy_good_files(lib_dir)
    db = tmp_path / "db"
    with Library.open(db) as lib:
        lib.index([lib_dir], workers=1)
    before = _generation(db)
    # Many more files, analysed slowly, so the kill lands in the middle of the run.
    for i in range(48):
        shutil.copy(first[i % len(first)], lib_dir / f"copy_{i:02d}.mid")
    env = dict(os.environ, MIDIBRIDGE_INDEX_TEST_DELAY="0.15", MIDIBRIDGE_INDEX_TEST_BATCH_DELAY="0.3")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge", "index", str(lib_dir), "--db", str(db), "--workers", "2", "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill reaches the analysis workers too
    )
    try:
        deadline = time.monotonic() + 60
        while _generation(db) < before + 3 and time.monotonic() < deadline:  # roots, plan, >= 1 batch
            assert proc.poll() is None, "the run finished before it could be killed; make it slower"
            time.sleep(0.05)
        time.sleep(0.4)  # now somewhere inside the next batch
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    with Library.open(db) as lib:
        names = {os.path.basename(h.file) for h in lib.search(SearchQuery(text="chorale", k=1000))}
        assert {p.name for p in first} <= names  # everything indexed before is still there
        partial = lib.stats()["files"]
        assert len(first) < partial < len(first) + 48  # some committed batches, not all
        report = lib.index([lib_dir], workers=2)
        assert report.unchanged == partial  # committed work is not redone
        assert lib.stats()["files"] == len(first) + 48
