"""A bounded soak of an endless stream (bench/soak.py for two minutes): flat RSS, no late bar, no drift."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not shutil.which("jackd"), reason="jackd not installed")]

REPO = Path(__file__).resolve().parents[2]


def _soak():
    spec = importlib.util.spec_from_file_location("bench_soak", REPO / "bench" / "soak.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.soak


def test_two_minutes_of_endless_stream_keep_memory_flat_and_every_bar_on_time(tmp_path, jack_server):
    # 300 BPM: 150 bars in two minutes, so the backbone's context is rebuilt several times.
    result = _soak()(minutes=2.0, bpm=300.0, every=10.0, jack=jack_server, tmp=tmp_path, warmup=60.0)
    assert result["bars"] >= 100, result
    assert result["late_bars"] == 0 and result["held_bars"] == 0, result
    assert result["left_sounding"] == 0
    # The grid never shifts: the last bars' onsets are on the sixteenth grid counted from the first note.
    if result["xruns"] == 0:
        assert result["drift_frames_last_bars"] <= 1, result
    # Memory stays flat once the backbone's context window has filled (~70 bars, under a minute at 300 BPM):
    # bounded caches and snapshots; allocator noise is a few %.
    assert result["rss_growth"] < 0.05, result["samples"]
