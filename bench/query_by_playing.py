"""Query by playing through the real library: played excerpts of a folder's files, searched end to end.

    .venv/bin/python bench/query_by_playing.py                       # the bundled clips, 60 phrases
    .venv/bin/python bench/query_by_playing.py --dir ~/midi --queries 200 --json out.json

The folder is indexed with the shipped retrieval model (into a temporary library); each query is 2-4 bars
from a random bar of a random file, performed on piano (tempo ×0.75-1.33, velocity ±15, onsets ±20 ms,
moved ±3 semitones) into the daemon's `PhraseCapture`, then `Library.search(like_piece=..., k=10)`:

- shipped: `transpose=True` (the melodic match at its transposition plus the tower's cosine at every shift);
- no transposition: the same search with `transpose=False` (the tower sees the phrase as played);
- phrase capture: the time `PhraseCapture.finish` takes (beat estimation), per phrase.

Printed: p50/p99 latency of each, its ratio to the shipped search, top-1/top-3 of the source file and how
often the reported interval is the one played. Latencies on a shared 2-core machine are noisy: compare rows
of one run, not runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # run_info, also when imported by path (tests)
from run_info import announce  # noqa: E402


def percentiles(ms: list[float]) -> dict:
    return {"p50": round(float(np.percentile(ms, 50)), 2), "p99": round(float(np.percentile(ms, 99)), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=None, help="MIDI folder (default: the bundled clips)")
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    info = announce()

    from rich.progress import track

    from bridge import paths
    from bridge.inference import RetrievalEncoders
    from bridge.library import Library, SearchQuery
    from bridge.midi.capture import PhraseCapture
    from bridge.music import load_midi
    from models.retrieval.played import RATE, TEMPO_FACTORS, TRANSPOSE_RANGE, excerpt, perform

    folder = (args.dir or paths.bundled_library_dir()).expanduser()
    files = sorted(folder.rglob("*.mid"))
    if not files:
        sys.exit(f"no .mid files under {folder}")
    encoder = RetrievalEncoders.load()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        with Library.open(Path(tmp) / "db", encoder=encoder) as lib:
            t0 = time.perf_counter()
            lib.index([folder])
            index_s = time.perf_counter() - t0
            lib.search(SearchQuery(like_piece=load_midi(files[0]), k=1))  # builds the melody index once
            melody_s = time.perf_counter() - t0 - index_s
            times = {"shipped": [], "no_transposition": [], "phrase_capture": []}
            ranks = {"shipped": [], "no_transposition": []}
            interval_ok = []
            for _ in track(range(args.queries), description="played phrases"):
                f = files[int(rng.integers(len(files)))]
                piece = load_midi(f)
                cut = excerpt(piece, rng)
                if cut is None:
                    continue
                bpm = piece.tempo_at(0.0) * float(np.exp(rng.uniform(*np.log(TEMPO_FACTORS))))
                shift = int(rng.integers(-TRANSPOSE_RANGE, TRANSPOSE_RANGE + 1))
                cap = PhraseCapture(RATE, bpm=lambda: 120.0)
                last = RATE
                for seconds, data in perform(cut[0], bpm, rng, shift):
                    last = RATE + int(round(seconds * RATE))
                    cap.feed(last, data)
                t = time.perf_counter()
                phrase = cap.finish(last)
                times["phrase_capture"].append((time.perf_counter() - t) * 1000)
                for name, transpose in (("shipped", True), ("no_transposition", False)):
                    t = time.perf_counter()
                    hits = lib.search(SearchQuery(like_piece=phrase, k=10, transpose=transpose))
                    times[name].append((time.perf_counter() - t) * 1000)
                    found = [h for h in hits if Path(h.file).name == f.name]
                    ranks[name].append(hits.index(found[0]) + 1 if found else 99)
                    if transpose:
                        interval_ok.append(bool(found) and found[0].transpose == -shift)
    base = np.percentile(times["shipped"], 50)
    out = {
        "folder": str(folder), "files": len(files), "queries": len(ranks["shipped"]),
        "index_seconds": round(index_s, 2), "melody_index_seconds": round(melody_s, 2),
        "latency_ms": {k: {**percentiles(v), "ratio_p50_vs_shipped": round(float(np.percentile(v, 50) / base), 3)}
                       for k, v in times.items()},
        "accuracy": {k: {"top1": round(float(np.mean(np.array(v) <= 1)), 3),
                         "top3": round(float(np.mean(np.array(v) <= 3)), 3)} for k, v in ranks.items()},
        "interval_reported_right": round(float(np.mean(interval_ok)), 3),
    }
    print(f"{out['queries']} played phrases against {out['files']} files "
          f"(index {out['index_seconds']} s, melody index {out['melody_index_seconds']} s)")
    print(f"{'':18s} {'p50 ms':>8s} {'p99 ms':>8s} {'ratio':>6s} {'top-1':>6s} {'top-3':>6s}")
    for k, v in out["latency_ms"].items():
        acc = out["accuracy"].get(k, {})
        print(f"{k:18s} {v['p50']:8.2f} {v['p99']:8.2f} {v['ratio_p50_vs_shipped']:6.2f} "
              f"{acc.get('top1', float('nan')):6.3f} {acc.get('top3', float('nan')):6.3f}")
    print(f"interval reported right: {out['interval_reported_right']:.3f}")
    if args.json:
        args.json.write_text(json.dumps({**out, "run": info}, indent=2))


if __name__ == "__main__":
    main()
