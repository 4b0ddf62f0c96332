"""Audio preview time to first byte: how long the page waits before an 8-bar clip starts streaming.

    .venv-dev/bin/python bench/web_audio.py                 # 20 distinct 8-bar clips, 5 rounds cached
    .venv-dev/bin/python bench/web_audio.py --clips 40 --json out.json

1. Writes --clips distinct 8-bar clips (4/4, 120 BPM, a melody over three-note chords, every clip different
   so every first request renders), indexes them, and starts `midibridge serve` (no MIDI, feature ranking)
   with its web page on a free port.
2. Cold: GET /api/hits/S/R/audio.wav once per clip: the daemon reads the clip in its worker, FluidSynth
   renders it (a subprocess), the file streams. Time = request sent until the first body byte arrives.
3. Cached: the same URLs --rounds more times (served from the content-hash cache).
Prints p50/p99 of both and their ratio (cached is the baseline). Numbers on a shared 2-core machine are
noisy; they are measurements, not test thresholds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "daemon"))
sys.path.insert(0, str(REPO / "tests" / "web"))

from conftest import web_url_of  # noqa: E402
from daemon_harness import start_daemon, wait_library_ready  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run_info, also when imported by path (tests)
from run_info import announce  # noqa: E402


def write_clips(folder: Path, n: int) -> None:
    from bridge.music import NoteList, Piece, TempoChange, save_midi

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    scale = [0, 2, 4, 5, 7, 9, 11]
    for i in range(n):
        notes = []
        tonic = 48 + i % 12
        for bar in range(8):
            root = scale[int(rng.integers(0, 7))]
            for j, step in enumerate((0, 4, 7)):  # a chord per bar, whole notes
                notes.append((bar * 4.0, 4.0, tonic + root + step, 60 + j))
            for beat in range(8):  # eighth-note melody an octave up
                notes.append((bar * 4.0 + beat * 0.5, 0.5, tonic + 12 + scale[int(rng.integers(0, 7))], 90))
        piece = Piece(notes=NoteList.from_tuples(notes), tempos=(TempoChange(0, 120.0),))
        save_midi(piece, folder / f"clip_{i:03d}.mid")


def ttfb(client, url: str) -> float:
    t0 = time.perf_counter()
    first = None
    with client.stream("GET", url) as r:
        r.raise_for_status()
        for _chunk in r.iter_raw():
            if first is None:
                first = time.perf_counter() - t0
    return first * 1000.0


def pct(values, q) -> float:
    return round(float(np.percentile(np.asarray(values, dtype=float), q)), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=20, help="distinct 8-bar clips (cold renders)")
    ap.add_argument("--rounds", type=int, default=5, help="cached requests per clip")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args()
    info = announce()

    import httpx
    from rich.progress import Progress

    from bridge.library import Library

    with tempfile.TemporaryDirectory(prefix="mb-ttfb-") as tmp:
        tmp = Path(tmp)
        write_clips(tmp / "midi", args.clips)
        with Library.open(tmp / "db") as lib:
            lib.index([tmp / "midi"])
        daemon = start_daemon(tmp, None, "--midi-api", "none", "--no-model", "--web-port", "0", db=tmp / "db")
        try:
            wait_library_ready(daemon)
            base = web_url_of(daemon)
            with httpx.Client(base_url=base, timeout=60) as client:
                result = client.post("/api/search", json={"text": "piano", "k": args.clips}).json()
                hits = [h for h in result["hits"] if h["bar_count"] == 8]
                assert len(hits) == args.clips, [h["bars"] for h in result["hits"]]
                cold, cached = [], []
                with Progress(transient=True) as progress:
                    task = progress.add_task("audio previews", total=len(hits) * (1 + args.rounds))
                    for h in hits:
                        cold.append(ttfb(client, h["urls"]["wav"]))
                        progress.advance(task)
                    for _ in range(args.rounds):
                        for h in hits:
                            cached.append(ttfb(client, h["urls"]["wav"]))
                            progress.advance(task)
                audio = client.get("/api/status").json()["audio"]
        finally:
            daemon.stop()
    out = {
        "clip": "8 bars 4/4 at 120 BPM (16 s), melody + chords, 22050 Hz wav",
        "cold_ms": {"n": len(cold), "p50": pct(cold, 50), "p99": pct(cold, 99), "max": round(max(cold), 1)},
        "cached_ms": {"n": len(cached), "p50": pct(cached, 50), "p99": pct(cached, 99)},
        "cold_over_cached_p50": round(pct(cold, 50) / max(pct(cached, 50), 1e-3), 1),
        "fluidsynth_render_ms_p50": audio["render_ms_p50"], "renders": audio["renders"],
    }
    print(f"audio TTFB, {out['clip']}")
    print(f"  cold   (render): n={len(cold):4d}  p50 {out['cold_ms']['p50']:7.1f} ms  "
          f"p99 {out['cold_ms']['p99']:7.1f} ms")
    print(f"  cached        : n={len(cached):4d}  p50 {out['cached_ms']['p50']:7.1f} ms  "
          f"p99 {out['cached_ms']['p99']:7.1f} ms")
    print(f"  cold / cached p50: {out['cold_over_cached_p50']}x   (FluidSynth alone p50 "
          f"{out['fluidsynth_render_ms_p50']} ms)")
    if args.json:
        args.json.write_text(json.dumps({**out, "run": info}, indent=2))


if __name__ == "__main__":
    main()
