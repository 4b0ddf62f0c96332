"""Indexing throughput: the whole `midibridge index` pipeline against the MIDI tower's own throughput, same run.

    .venv/bin/python bench/index.py                      # the bundled library x4 (320 files), 2 workers
    nice -n 19 .venv/bin/python bench/index.py --copies 10 --workers 2 --json index.json

Runs from a fresh clone: the files are the bundled clips (bridge/assets/library) copied --copies times into a
temporary folder (copy i moved up i semitones, so no two copies are the same content), the model is the
shipped one (bridge/assets/models/retrieval). Three measurements, in this order:

1. **tower**: the MIDI tower alone on every window of those files (pieces cut in-process beforehand):
   `encode_pieces` (tokenising + ONNX, what the indexer used to call per batch) and `encode_token_ids`
   (ONNX alone, on ids tokenised beforehand), in chunks of the indexer's size; p50/p99 ms per chunk.
2. **pipeline**: `Library.index` on the folder into a fresh index with the same encoder (walk, hash, parse,
   analyse and tokenise on --workers processes, tower, SQLite commits): windows/s and files/s.
3. **analysis alone**: the same `Library.index` without a model (walk, parse, analyse, commit).
4. **tower again** (drift on a shared machine); the tower figure is the mean of 1 and 4.
The ratio pipeline / tower is the issue-17 figure (goal >= 0.8). Analysis and tower share the cores, so the
pipeline cannot beat 1 / (1 / tower + 1 / analysis alone) windows/s ("cpu_bound"); its ratio to that says how
much of what the cores allow the pipeline gets. Prints the machine, its load and the command
line first; --json writes everything.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from run_info import announce  # noqa: E402  (bench/ is on sys.path when a bench script runs)

log = logging.getLogger("bench.index")


def make_library(dest: Path, copies: int) -> list[Path]:
    """The bundled clips, `copies` times: copy i transposed by i semitones (drums stay), as real files."""
    from bridge import paths
    from bridge.library.ranking import transposed
    from bridge.music import load_midi, save_midi

    sources = sorted(paths.bundled_library_dir().rglob("*.mid"))
    out = []
    for i in range(copies):
        folder = dest / f"copy{i:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for src in sources:
            target = folder / src.name
            if i == 0:
                shutil.copyfile(src, target)
            else:
                save_midi(transposed(load_midi(src), i % 12 if i % 12 else 1), target)
            out.append(target)
    return out


def window_pieces(files: list[Path]) -> list:
    from bridge.library.ingest import analyse_piece
    from bridge.music import load_midi

    pieces = []
    for f in files:
        _info, _records, ps = analyse_piece(load_midi(f), want_pieces=True)
        pieces.extend(ps)
    return pieces


def tower(encoder, pieces: list, chunk: int) -> dict:
    """windows/s of encode_pieces and of encode_token_ids on every window, in the indexer's chunks."""
    ids = encoder.tokenize_pieces(pieces)
    encoder.encode_token_ids(ids[:chunk])  # warm-up: first ORT runs allocate
    out = {}
    for label, run, data in (
        ("encode_pieces", encoder.encode_pieces, pieces),
        ("encode_token_ids", encoder.encode_token_ids, ids),
    ):
        ms = []
        t0 = time.perf_counter()
        for lo in range(0, len(data), chunk):
            t = time.perf_counter()
            run(data[lo : lo + chunk])
            ms.append((time.perf_counter() - t) * 1e3)
        seconds = time.perf_counter() - t0
        out[label] = {"windows_per_s": round(len(data) / seconds, 1), **percentiles(ms, f"ms_per_{chunk}")}
    return out


def percentiles(ms: list[float], unit: str = "ms") -> dict:
    a = np.asarray(ms)
    return {f"p50_{unit}": round(float(np.percentile(a, 50)), 2), f"p99_{unit}": round(float(np.percentile(a, 99)), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=4, help="copies of the bundled library (80 files each)")
    ap.add_argument("--workers", type=int, default=2, help="analysis processes, as `midibridge index --workers`")
    ap.add_argument("--threads", type=int, default=0, help="ONNX threads of the tower (0: as `midibridge index`)")
    ap.add_argument(
        "--main-tokenizes",
        action="store_true",
        help="the earlier pipeline: workers send window pieces, the main process tokenises them",
    )
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    from bridge.inference import RetrievalEncoders
    from bridge.library import Library
    from bridge.library.indexer import EMBED_BATCH

    results: dict = announce()
    encoder = RetrievalEncoders.load(threads=args.threads)
    if args.main_tokenizes:
        from bridge.library import indexer

        indexer.token_spec = lambda _encoder: None
    chunk = EMBED_BATCH
    with tempfile.TemporaryDirectory() as tmp:
        files = make_library(Path(tmp) / "midi", args.copies)
        pieces = window_pieces(files)
        results.update(files=len(files), windows=len(pieces), model=encoder.name)
        first = tower(encoder, pieces, chunk)
        with Library.open(Path(tmp) / "db", encoder=encoder) as lib:
            t = time.perf_counter()
            report = lib.index([Path(tmp) / "midi"], workers=args.workers)
            seconds = time.perf_counter() - t
        if report.embedded != len(pieces):
            log.warning("the pipeline embedded %d windows, the tower run %d", report.embedded, len(pieces))
        results["pipeline"] = {
            "windows_per_s": round(report.embedded / seconds, 1),
            "files_per_s": round(len(files) / seconds, 1),
            "seconds": round(seconds, 2),
            "embedded": report.embedded,
            "workers": args.workers,
            "tokenised_on": "main process" if args.main_tokenizes else "workers",
        }
        with Library.open(Path(tmp) / "db_meta") as lib:  # the same run without the tower: analysis alone
            t = time.perf_counter()
            meta = lib.index([Path(tmp) / "midi"], workers=args.workers)
            meta_s = time.perf_counter() - t
        results["analysis_only"] = {"windows_per_s": round(meta.windows / meta_s, 1),
                                    "files_per_s": round(len(files) / meta_s, 1)}  # fmt: skip
        second = tower(encoder, pieces, chunk)
    results["tower_before"], results["tower_after"] = first, second
    for label in ("encode_pieces", "encode_token_ids"):
        rate = (first[label]["windows_per_s"] + second[label]["windows_per_s"]) / 2
        results[f"tower_{label}_windows_per_s"] = round(rate, 1)
        results[f"ratio_vs_{label}"] = round(results["pipeline"]["windows_per_s"] / rate, 3)
    # What the cores allow: the analysis and the tower share them, so a window costs the CPU time of both;
    # with each at its own full-machine rate, the pipeline cannot beat 1 / (1 / tower + 1 / analysis).
    tower_rate, analysis_rate = (
        results["tower_encode_token_ids_windows_per_s"],
        results["analysis_only"]["windows_per_s"],
    )
    bound = 1.0 / (1.0 / tower_rate + 1.0 / analysis_rate)
    results["cpu_bound_windows_per_s"] = round(bound, 1)
    results["ratio_vs_cpu_bound"] = round(results["pipeline"]["windows_per_s"] / bound, 3)
    results["load_avg_after"] = os.getloadavg()
    text = json.dumps(results, indent=2)
    sys.stdout.write(text + "\n")
    p, t = results["ratio_vs_encode_pieces"], results["ratio_vs_encode_token_ids"]
    print(
        f"pipeline {results['pipeline']['windows_per_s']} windows/s ({results['pipeline']['files_per_s']} files/s);"
        f" tower {results['tower_encode_pieces_windows_per_s']} windows/s with tokenising, "
        f"{results['tower_encode_token_ids_windows_per_s']} without; ratio {p:.2f} / {t:.2f}; analysis alone "
        f"{analysis_rate} windows/s, CPU bound {results['cpu_bound_windows_per_s']} windows/s "
        f"(ratio {results['ratio_vs_cpu_bound']:.2f})",
        file=sys.stderr,
    )
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
