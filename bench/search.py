"""Library search benchmark: exact numpy vs usearch HNSW, end-to-end text queries, index build rate.

    .venv/bin/python bench/search.py         # 10k (exact + HNSW) and 100k (exact) vectors, library, index rate
    .venv/bin/python bench/search.py --sizes 10000,100000,1000000 --ann-max 100000 --json out.json  # ~15 min

1. Vector search at each size: synthetic L2-normalised 384-d vectors drawn around 2,000 cluster centres
   (real embeddings cluster; uniform random vectors are the worst case for any ANN graph). Single-query
   latency p50/p99 for exact search (one float32 mat-vec + argpartition) and usearch HNSW in the same run,
   HNSW recall@10 against exact, HNSW build rate, and process RSS.
2. End-to-end `Library.search_with_info` at --library-windows windows (SQLite index written through the
   store, vectors random): text query p50/p99 including text encoding when a retrieval model is installed,
   constraint parsing, filters, tiers and overlap collapsing.
3. Index build rate (files/s, 2 workers) on real MIDI files written from music21's ABC folk tunes.
Latencies on a shared 2-core machine are noisy: compare rows of one run, not runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
from queries import TEXT_QUERIES  # bench/ is on sys.path when a bench script runs

log = logging.getLogger("bench.search")

DIM = 384
K = 10


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


def clustered_vectors(n: int, dim: int = DIM, centres: int = 2000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, dim)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        out[lo:hi] = c[rng.integers(0, centres, hi - lo)] + 0.8 * rng.standard_normal((hi - lo, dim)).astype(np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def percentiles(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"p50_ms": round(float(np.percentile(a, 50)), 3), "p99_ms": round(float(np.percentile(a, 99)), 3)}


def exact_top(matrix: np.ndarray, q: np.ndarray, k: int = K, blas: bool = False) -> np.ndarray:
    """The library's exact search: one mat-vec (einsum, single-threaded; or BLAS `@`) + argpartition."""
    scores = matrix @ q if blas else np.einsum("ij,j->i", matrix, q)
    idx = np.argpartition(-scores, k)[:k]
    return idx[np.argsort(-scores[idx])]


def bench_vectors(n: int, queries: int, ann: bool) -> dict:
    t = time.perf_counter()
    data = clustered_vectors(n)
    qs = clustered_vectors(queries, seed=1)
    row: dict = {"vectors": n, "gen_s": round(time.perf_counter() - t, 1), "matrix_mb": round(data.nbytes / 1e6, 1)}
    truth = []
    for name, blas in (("exact_einsum", False), ("exact_blas", True)):
        ms = []
        for q in qs:
            t = time.perf_counter()
            top = exact_top(data, q, blas=blas)
            ms.append((time.perf_counter() - t) * 1e3)
            if not blas:
                truth.append(top)
        row[name] = percentiles(ms)
    row["rss_mb_exact"] = round(rss_mb())
    if ann:
        row["hnsw"] = bench_usearch(data, qs, truth)
        row["rss_mb_with_hnsw"] = round(rss_mb())
    log.info("%s", row)
    return row


def bench_usearch(data: np.ndarray, qs: np.ndarray, truth: list[np.ndarray]) -> dict:
    from usearch.index import Index

    index = Index(ndim=data.shape[1], metric="ip", dtype="f16", connectivity=16, expansion_add=64)
    t = time.perf_counter()
    index.add(np.arange(len(data)), data, threads=2)
    build_s = time.perf_counter() - t
    out: dict = {
        "params": "usearch f16 M=16 ef_add=64",
        "build_s": round(build_s, 1),
        "build_vectors_per_s": round(len(data) / build_s),
        "index_mb": round(index.memory_usage / 1e6, 1),
    }
    for ef in (64, 256):
        index.expansion_search = ef
        ms, recall = [], []
        for q, true in zip(qs, truth):
            t = time.perf_counter()
            found = index.search(q, K, threads=1)
            ms.append((time.perf_counter() - t) * 1e3)
            recall.append(len(set(found.keys.tolist()) & set(true.tolist())) / K)
        out[f"ef_search_{ef}"] = {**percentiles(ms), "recall_at_10": round(float(np.mean(recall)), 4)}
    return out


# ---- end to end through Library --------------------------------------------------------------------


class RandomEncoder:
    """Stands in for the model when none is installed: the search path minus real text encoding."""

    name = "bench-random"
    dim = DIM
    fingerprint = "0"

    def __init__(self):
        self.rng = np.random.default_rng(0)

    def encode_text(self, texts):
        v = self.rng.standard_normal((len(texts), DIM)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def encode_pieces(self, pieces):
        return self.encode_text([""] * len(pieces))


def load_encoder(threads: int = 0):
    try:
        from bridge.inference import RetrievalEncoders

        return RetrievalEncoders.load(threads=threads), True
    except Exception as e:  # no shipped model yet: measure everything but text encoding
        log.warning("no retrieval model (%s): text encoding not included", e)
        return RandomEncoder(), False


def synthetic_index(db_dir: Path, n_windows: int, encoder) -> None:
    """Write n_windows windows (4 per file) through the store, as an index run would."""
    from bridge.library import store
    from bridge.library.ingest import FileResult, WindowRecord
    from bridge.library.types import model_key

    rng = np.random.default_rng(0)
    conn = store.connect(db_dir)
    model = model_key(encoder)
    vecs = clustered_vectors(n_windows, encoder.dim, seed=2)
    meters = ["4/4", "3/4", "6/8", "2/4"]
    modes = ["major", "minor"]
    names = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"]
    with store.Transaction(conn):
        # A library with no folder counts as never indexed: the daemon would index the bundled clips into it,
        # and that run would drop every synthetic file as deleted.
        store.add_roots(conn, [str(Path(db_dir) / "synthetic")])
        for f in range(n_windows // 4):
            windows = []
            for w in range(4):
                pc, mode = int(rng.integers(12)), modes[int(rng.integers(2))]
                hist = rng.random(12)
                windows.append(
                    WindowRecord(
                        w * 4,
                        w * 4 + 8,
                        w * 16.0,
                        w * 16.0 + 32,
                        w * 8.0,
                        w * 8.0 + 16,
                        pc,
                        mode,
                        f"{names[pc]} {mode}",
                        0.8,
                        float(rng.integers(60, 180)),
                        "Allegro",
                        meters[int(rng.integers(4))],
                        tuple(sorted({int(rng.integers(0, 80)), 0})),
                        100,
                        "mid",
                        "mf",
                        "homophonic",
                        tuple(float(x) for x in hist / hist.sum()),
                    )  # fmt: skip
                )
            result = FileResult(f"/bench/file_{f:06d}.mid", 1000, 1, f"h{f}", info={}, windows=tuple(windows))
            store.write_result(conn, result, vecs[f * 4 : f * 4 + 4], model)
        store.set_meta(conn, "last_index", str(time.time()))
    conn.close()


def bench_library(n_windows: int, queries: int) -> dict:
    from bridge.library import Library, SearchQuery

    # One intra-op thread: a single short query gains nothing from two, and on a busy machine the second
    # thread's wait shows up in the tail (measured p50 8.6 vs 12.4 ms for the int8 MiniLM under load).
    encoder, real = load_encoder(threads=1)
    texts = list(TEXT_QUERIES)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "db"
        t = time.perf_counter()
        synthetic_index(db, n_windows, encoder)
        write_s = time.perf_counter() - t
        lib = Library.open(db, encoder=encoder)
        t = time.perf_counter()
        lib.snapshot()
        load_ms = (time.perf_counter() - t) * 1e3
        for text in texts:  # warm-up: first ORT runs allocate
            lib.search_with_info(SearchQuery(text=text))
        total, encode, cpu = [], [], []
        for i in range(queries):
            text = texts[i % len(texts)]
            t = time.perf_counter()
            encoder.encode_text([text])
            encode.append((time.perf_counter() - t) * 1e3)
            t, c = time.perf_counter(), time.process_time()
            result = lib.search_with_info(SearchQuery(text=text, k=10))
            total.append((time.perf_counter() - t) * 1e3)
            cpu.append((time.process_time() - c) * 1e3)
        assert result.ranking == "embedding" and len(result.hits) == 10
        lib.close()
    return {
        "windows": n_windows,
        "model": getattr(encoder, "name", "?") if real else None,
        "text_encoding_included": real,
        "text_query": percentiles(total),
        # CPU time of the same queries (all threads): what a query costs when it gets the cores to itself,
        # a load-independent figure on a shared machine (process_time ticks coarsely: read p50 with care).
        "text_query_cpu": percentiles(cpu),
        "text_encoding_alone": percentiles(encode) if real else None,
        "snapshot_load_ms": round(load_ms, 1),
        "index_write_s": round(write_s, 1),
        "rss_mb": round(rss_mb()),
    }


# ---- index build rate on real files ------------------------------------------------------------------


def real_midi_files(out: Path, n: int) -> list[Path]:
    """Folk tunes from music21's ABC corpus written as MIDI with symusic (40x faster than music21)."""
    import symusic
    from music21 import corpus

    out.mkdir(parents=True, exist_ok=True)
    have = sorted(out.glob("*.mid"))
    if len(have) >= n:
        return have[:n]
    written = []
    for abc in sorted(corpus.getPaths(fileExtensions=("abc",))):
        text = Path(abc).read_text(encoding="latin-1")
        for i, tune in enumerate(text.split("\nX:")[1:]):
            try:
                score = symusic.Score.from_abc("X:" + tune)
            except Exception:  # some tunes use ABC features symusic lacks; the corpus has plenty more
                continue
            if score.note_num() < 16:
                continue
            path = out / f"{Path(abc).stem}_{i:03d}.mid"
            score.dump_midi(str(path))
            written.append(path)
            if len(written) >= n:
                return written
    return written


def bench_index(n_files: int, cache: Path) -> dict:
    from bridge.library import Library

    files = real_midi_files(cache, n_files)
    encoder, real = load_encoder()
    with tempfile.TemporaryDirectory() as tmp:
        lib_dir = Path(tmp) / "midi"
        lib_dir.mkdir()
        for f in files:
            os.symlink(f, lib_dir / f.name)
        out = {"files": len(files)}
        with Library.open(Path(tmp) / "db") as lib:
            t = time.perf_counter()
            report = lib.index([lib_dir], workers=2)
            out["metadata_only_files_per_s"] = round(len(files) / (time.perf_counter() - t), 1)
            out["windows"] = report.windows
        if real:
            with Library.open(Path(tmp) / "db2", encoder=encoder) as lib:
                t = time.perf_counter()
                lib.index([lib_dir], workers=2)
                out["with_embedding_files_per_s"] = round(len(files) / (time.perf_counter() - t), 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated vector counts")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--ann-max", type=int, default=20_000, help="build HNSW only up to this many vectors (slow)")
    ap.add_argument("--library-windows", type=int, default=10_000)
    ap.add_argument("--index-files", type=int, default=300)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "midibridge-bench-midi")
    ap.add_argument("--skip", default="", help="comma-separated: vectors,library,index")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    skip = set(filter(None, args.skip.split(",")))
    results: dict = {"cpu_count": os.cpu_count(), "load_avg": os.getloadavg()}
    if "vectors" not in skip:
        results["vectors"] = []
        for n in (int(s) for s in args.sizes.split(",")):
            q = args.queries if n <= 100_000 else max(30, args.queries // 4)
            results["vectors"].append(bench_vectors(n, q, ann=n <= args.ann_max))
    if "library" not in skip:
        results["library"] = bench_library(args.library_windows, args.queries)
        log.info("library: %s", results["library"])
    if "index" not in skip:
        results["index"] = bench_index(args.index_files, args.cache)
        log.info("index: %s", results["index"])
    text = json.dumps(results, indent=2)
    sys.stdout.write(text + "\n")
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
