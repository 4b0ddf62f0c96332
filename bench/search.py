"""Library search benchmark: exact vs approximate (bridge.library.ann), end-to-end text queries, index build rate.

    .venv/bin/python bench/search.py         # all parts at their default sizes (10k, 100k)
    nice -n 19 .venv/bin/python bench/search.py --ann-sizes 10000,100000,1000000 \
        --e2e-sizes 10000,100000,1000000 --skip vectors,library,index --json out.json   # ~15 min on 2 cores

1. `ann` (--ann-sizes): real-shaped vectors (`real_shaped_vectors`: files of overlapping windows in a low-rank
   space, exact copies, transposed copies, loops), exact mat-vec vs `bridge.library.ann` (faiss HNSW over the
   deduplicated vectors, candidates re-scored exactly): p50/p99 of one query at a time, recall@10 by distance
   (a hit whose cosine reaches the exact 10th counts: ties among copies are not misses), build time, unique
   vectors, memory of the index, its file size and the time to open it again (cold start).
2. `e2e` (--e2e-sizes): `Library.search_with_info` on a snapshot of that many windows, exact vs approximate,
   text queries incl. text encoding by the shipped text tower (1 thread), with constraint tiers, and the same
   with a hard filter (--meter 3/4); recall@10 of the hit lists by (tier, score). Where the approximate index
   is used, `fresh_process`: a new process opens the saved snapshot and index as a daemon's search worker does
   (cold start), serves the same queries (p50/p99, their CPU time, text encoding alone; `text_cold_masks`:
   the constraint-mask cache emptied before each query; `text_repeated`: each text's second search, its
   vector from the library's query-vector cache) and reports its memory (RSS, and the anonymous /
   file-backed parts: vectors and graph codes are memory-mapped). Every row's texts are distinct
   (`distinct_queries`) and the query-vector cache is emptied before each measured query, so no figure but
   `text_repeated` is a repeated query's.
3. `vectors` (--sizes): the older hard case, 384-d vectors around 2,000 cluster centres with no duplicates:
   exact einsum vs BLAS `@`, and the approximate index up to --ann-max vectors at ef_search 64 and 256.
4. `library`: end-to-end `Library.search_with_info` at --library-windows windows (SQLite index written through
   the store): text query p50/p99 including text encoding, constraint parsing, filters, tiers, collapsing.
5. `index`: index build rate (files/s, 2 workers) on real MIDI files written from music21's ABC folk tunes.
Prints the machine, its load and the command line first; --json writes everything.
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
from run_info import announce

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


def real_shaped_vectors(n: int, dim: int = DIM, seed: int = 0, latent: int = 48, styles: int = 400) -> np.ndarray:
    """Vectors with a real library's duplicate structure: files of 1-16 overlapping windows (a random walk in a
    48-d latent space, the tower's embeddings are far from full-rank), 25 % exact copies of an earlier file (one
    clip in several packs), 20 % transposed copies (a fixed offset per semitone), 10 % loops (every window equal)."""
    rng = np.random.default_rng(seed)
    basis = (
        rng.standard_normal((latent, dim)).astype(np.float32) * np.linspace(1.0, 0.2, latent, dtype=np.float32)[:, None]
    )
    centres = rng.standard_normal((styles, latent)).astype(np.float32)
    shift = 0.35 * rng.standard_normal((12, latent)).astype(np.float32)
    out = np.empty((n, dim), np.float32)
    originals: list[np.ndarray] = []
    i = 0
    while i < n:
        r = rng.random()
        if originals and r < 0.25:
            lat = originals[int(rng.integers(len(originals)))]
        elif originals and r < 0.45:
            lat = originals[int(rng.integers(len(originals)))] + shift[int(rng.integers(12))]
        else:
            w = int(min(16, 1 + rng.geometric(0.2)))
            c = centres[int(rng.integers(styles))] + 0.6 * rng.standard_normal(latent).astype(np.float32)
            lat = np.repeat(c[None], w, 0) if r < 0.55 else c + np.cumsum(0.35 * rng.standard_normal((w, latent)), 0)
            originals.append(lat.astype(np.float32))
        w = min(len(lat), n - i)
        out[i : i + w] = lat[:w] @ basis
        i += w
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def near_queries(data: np.ndarray, m: int, seed: int = 1) -> np.ndarray:
    """Queries near the library but not in it (cosine ~0.6-0.7 to their nearest window), like a text query."""
    rng = np.random.default_rng(seed)
    q = data[rng.integers(len(data), size=m)] + 0.06 * rng.standard_normal((m, data.shape[1])).astype(np.float32)
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


class _Vectors:
    """The part of a Snapshot that bridge.library.ann builds from."""

    def __init__(self, vectors: np.ndarray):
        self.vectors, self.has_vector, self.generation = vectors, np.ones(len(vectors), bool), 1

    def __len__(self) -> int:
        return len(self.vectors)


def bench_ann(n: int, queries: int) -> dict:
    """Exact vs bridge.library.ann on real-shaped vectors: latency, recall@10 by distance, build, memory, cold start."""
    from bridge.library import ann

    t = time.perf_counter()
    data = real_shaped_vectors(n)
    qs = near_queries(data, queries)
    row: dict = {"vectors": n, "gen_s": round(time.perf_counter() - t, 1)}
    truth, ms = [], []
    for q in qs:
        t = time.perf_counter()
        top = exact_top(data, q)
        ms.append((time.perf_counter() - t) * 1e3)
        truth.append(np.sort(data[top] @ q)[::-1])
    row["exact"] = percentiles(ms)
    rss0 = rss_mb()
    snap = _Vectors(data)
    t = time.perf_counter()
    index = ann.build(snap, threads=0)
    row["build_s"] = round(time.perf_counter() - t, 1)
    row["unique_vectors"] = len(index)
    row["ann_rss_mb"] = round(rss_mb() - rss0)
    row["rss_mb"] = round(rss_mb())
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "bench-g1-0"
        ann.save(index, prefix)
        row["file_mb"] = round(sum(p.stat().st_size for p in Path(tmp).iterdir()) / 1e6, 1)
        t = time.perf_counter()
        loaded = ann.load(prefix, snap)
        row["cold_start_s"] = round(time.perf_counter() - t, 2)
    assert loaded is not None
    ms, recall = [], []
    for q, true in zip(qs, truth):
        t = time.perf_counter()
        rows = index.groups.expand(index.nearest_groups(q, K))  # what an unfiltered text query does
        s = np.einsum("ij,j->i", data[rows], q)
        top = rows[np.argsort(-s)[:K]]
        ms.append((time.perf_counter() - t) * 1e3)
        found = np.sort(data[top] @ q)[::-1]
        recall.append(float(np.mean(found >= true[-1] - 1e-6)))  # by distance: ties among copies are hits
    row["approximate"] = {**percentiles(ms), "recall_at_10": round(float(np.mean(recall)), 4)}
    row["speedup_p50"] = round(row["exact"]["p50_ms"] / max(row["approximate"]["p50_ms"], 1e-3), 1)
    log.info("%s", row)
    return row


def synthetic_snapshot(n: int, generation: int, model: str, dim: int = DIM, seed: int = 3):
    """A Snapshot of n windows (4 per file, real-shaped vectors), built from arrays without SQLite."""
    from bridge.library.snapshot import Snapshot

    rng = np.random.default_rng(seed)
    names = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"]
    meters = ("2/4", "3/4", "4/4", "6/8")
    tonic = rng.integers(0, 12, n).astype(np.int8)
    mode = rng.integers(0, 2, n).astype(np.int8)
    programs = np.zeros((n, 129), dtype=bool)
    programs[np.arange(n), rng.integers(0, 80, n)] = True
    programs[:, 0] |= rng.random(n) < 0.5
    w = np.arange(n) % 4
    files = n // 4 + 1
    key_vocab = tuple(sorted(f"{names[t]} {('major', 'minor')[m]}" for t in range(12) for m in range(2)))
    key_code = np.array(
        [[key_vocab.index(f"{names[t]} {('major', 'minor')[m]}") for m in range(2)] for t in range(12)], np.uint8
    )[tonic, mode]
    one = np.zeros(n, dtype=np.uint8)
    # Texture, register and dynamics drawn like a real library's (so mood words split it into patterns).
    texture = rng.choice(3, n, p=[0.3, 0.5, 0.2]).astype(np.uint8)  # monophonic, homophonic, polyphonic
    register = rng.choice(3, n, p=[0.6, 0.25, 0.15]).astype(np.uint8)  # mid, high, low (vocab order below)
    dynamics = rng.choice(6, n).astype(np.uint8)
    return Snapshot(
        generation=generation, files=tuple(f"/bench/file_{f:07d}.mid" for f in range(files)),
        file_hashes=tuple(f"h{f}" for f in range(files)), file_of=(np.arange(n) // 4).astype(np.int32),
        window_ids=np.arange(1, n + 1, dtype=np.int64), start_bar=(w * 4).astype(np.int32),
        end_bar=(w * 4 + 8).astype(np.int32), start_q=w * 16.0, stop_q=w * 16.0 + 32, start_s=w * 8.0,
        end_s=w * 8.0 + 16, tonic_pc=tonic, mode=mode, key_confidence=np.full(n, 0.8, np.float32),
        key_code=key_code, key_vocab=key_vocab,
        tempo=rng.integers(60, 180, n).astype(np.float32), tempo_word_code=one, tempo_word_vocab=("Allegro",),
        meter=rng.choice(4, n, p=[0.1, 0.2, 0.6, 0.1]).astype(np.int16), meters=meters,
        program_bits=np.packbits(programs, axis=1), texture_code=texture,
        texture_vocab=("homophonic", "monophonic", "polyphonic"), register_code=register,
        register_vocab=("high", "low", "mid"), dynamics_code=dynamics,
        dynamics_vocab=("f", "ff", "mf", "mp", "p", "pp"),
        pc_hist=np.full((n, 12), 1 / 12, np.float32), vectors=real_shaped_vectors(n, dim),
        has_vector=np.ones(n, dtype=bool), model=model,
    )  # fmt: skip


def bench_end_to_end(n: int, queries: int) -> dict:
    """`Library.search_with_info` on n windows, exact vs approximate, with the shipped text tower (1 thread) when
    it loads: text queries with constraints (tiers), and the same with a hard filter (--meter 3/4)."""
    from bridge.library import Library, SearchQuery, ann, store
    from bridge.library.types import model_key

    encoder, real = load_encoder(threads=1)
    texts = distinct_queries(queries + 5)  # distinct texts (the last 5 warm up); exact and approximate get the same
    texts, warm = texts[:queries], texts[queries:]
    out: dict = {"windows": n, "text_encoding_included": real}
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library.open(Path(tmp) / "db", encoder=encoder)
        t = time.perf_counter()
        snap = synthetic_snapshot(n, store.generation(lib._conn), model_key(encoder), encoder.dim)
        out["snapshot_s"] = round(time.perf_counter() - t, 1)
        lib._snapshot = snap  # the db's generation: Library.snapshot() returns it as the current one
        results: dict = {}
        for mode in ("exact", "approximate"):
            os.environ[ann.ENV_MIN_WINDOWS] = str(n + 1) if mode == "exact" else "1"
            lib.ann_build = "now"
            if mode == "approximate":
                t = time.perf_counter()
                lib.vector_index(snap)
                out["build_s"] = round(time.perf_counter() - t, 1)
                out["search"] = lib.search_mode()
                lib._ann = ann.Holder()  # cold start: open the saved index as a new worker would
                t = time.perf_counter()
                lib.vector_index(snap, build="never")
                out["cold_start_index_s"] = round(time.perf_counter() - t, 2)
            for text in warm:
                lib.search_with_info(SearchQuery(text=text))  # warm-up
            for label, extra in (("text", {}), ("text_meter_3_4", {"meter": "3/4"})):
                ms, hits = [], []
                for text in texts:
                    lib.forget_query_vectors()  # the text tower runs in every measured query
                    t = time.perf_counter()
                    r = lib.search_with_info(SearchQuery(text=text, k=K, **extra))
                    ms.append((time.perf_counter() - t) * 1e3)
                    hits.append([(len(h.matched), round(h.score, 5)) for h in r.hits])
                results[(mode, label)] = hits
                out[f"{mode}_{label}"] = percentiles(ms)
        os.environ.pop(ann.ENV_MIN_WINDOWS, None)
        for label in ("text", "text_meter_3_4"):
            rec = []
            for a, e in zip(results[("approximate", label)], results[("exact", label)]):
                left = list(e)
                got = 0
                for h in a:  # by distance: the same tier and score as an exact hit (ties among copies count)
                    if h in left:
                        left.remove(h)
                        got += 1
                rec.append(got / max(len(e), 1))
            out[f"recall_at_10_{label}"] = round(float(np.mean(rec)), 4)
        out["rss_mb"] = round(rss_mb())
        if "approximate" in out.get("search", ""):  # a daemon's worker: a fresh process opening the saved files
            from bridge.library import snapshot_cache

            db_id = store.get_meta(lib._conn, "db_id")
            snapshot_cache.save(snap, snapshot_cache.cache_path(lib.db_dir, db_id, snap.generation, snap.model))
            out["fresh_process"] = cold_process(lib.db_dir, queries)
        lib.close()
    log.info("end to end: %s", out)
    return out


def cold_process(db: Path, queries: int) -> dict:
    """`--cold DB` in a new process: what a daemon's search worker pays to open a saved library and serve it."""
    import subprocess

    cmd = [sys.executable, str(Path(__file__).resolve()), "--cold", str(db), "--queries", str(queries)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        log.warning("fresh process failed: %s", done.stderr[-2000:])
        return {"error": done.stderr.strip().splitlines()[-1:] or ["?"]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def cold_main(db: Path, queries: int) -> None:
    """Open `db` as a fresh search worker would (saved snapshot, memory-mapped vectors, saved approximate index),
    then serve text queries: cold start, p50/p99 with and without a filter, text encoding alone, memory."""
    t0 = time.perf_counter()
    from bridge.library import Library, SearchQuery

    encoder, real = load_encoder(threads=1)
    t1 = time.perf_counter()
    lib = Library.open(db, encoder=encoder)
    lib.ann_build = "never"
    snap = lib.snapshot()
    t2 = time.perf_counter()
    mode = lib.search_mode(snap)
    t3 = time.perf_counter()
    out: dict = {"search": mode, "text_encoding_included": real, "model_load_s": round(t1 - t0, 2),
                 "snapshot_load_s": round(t2 - t1, 2), "index_load_s": round(t3 - t2, 2),
                 "cold_start_s": round(t3 - t1, 2), "rss_mb_after_open": round(rss_mb())}  # fmt: skip
    from bridge.library import ranking

    # Distinct texts, none repeated within a row; the warm-up's texts are not measured. `text`: the constraint
    # masks cache (ranking.cached_mask) as a daemon's is, warming over the run; `text_meter_3_4`: the same
    # texts again with a filter (masks warm); `text_cold_masks`: the cache emptied before every query.
    texts = distinct_queries(queries + 5)
    texts, warm = texts[:queries], texts[queries:]
    for text in warm:
        lib.search_with_info(SearchQuery(text=text))
    # Every row but `text_repeated` empties the query-vector cache first, so the text tower runs in each
    # measured query; `text_repeated` times each text's second search (the next page, a filter toggled).
    rows = (("text", {}, False), ("text_meter_3_4", {"meter": "3/4"}, False), ("text_cold_masks", {}, True),
            ("text_repeated", {}, False))
    for label, extra, cold in rows:
        ms, enc, cpu = [], [], []
        for text in texts:
            t = time.perf_counter()
            encoder.encode_text([text])
            enc.append((time.perf_counter() - t) * 1e3)
            if cold and hasattr(ranking, "clear_mask_cache"):  # (absent before the cache: every row is cold)
                ranking.clear_mask_cache(snap)
            if hasattr(lib, "forget_query_vectors"):
                lib.forget_query_vectors()
            if label == "text_repeated":
                lib.search_with_info(SearchQuery(text=text, k=K, **extra))
            t, c = time.perf_counter(), time.thread_time()
            lib.search_with_info(SearchQuery(text=text, k=K, **extra))
            ms.append((time.perf_counter() - t) * 1e3)
            cpu.append((time.thread_time() - c) * 1e3)
        out[label] = percentiles(ms)
        # CPU time of the same queries (search and encoding run on this thread): what they cost with a core to
        # themselves, the load-independent figure on a shared machine.
        out[f"{label}_cpu"] = percentiles(cpu)
        out[f"{label}_text_encoding_alone"] = percentiles(enc)
    out["load_avg"] = os.getloadavg()
    m = psutil.Process().memory_full_info()
    out["rss_mb"] = round(m.rss / 1e6)
    out["rss_anonymous_mb"] = round((m.rss - m.shared) / 1e6)
    out["rss_file_backed_mb"] = round(m.shared / 1e6)  # memory-mapped vectors and graph codes: page cache
    lib.close()
    sys.stdout.write(json.dumps(out) + "\n")


def distinct_queries(n: int, seed: int = 7) -> list[str]:
    """`n` distinct musician-style text queries (mood, instrument, form, key, meter, tempo drawn from the
    parser's vocabulary, each part present or not): the bench's own 6 TEXT_QUERIES first, so no query text
    repeats within `n` and every cache in the search path is measured on queries it has not seen whole."""
    rng = np.random.default_rng(seed)
    # fmt: off
    moods = ["", "sad", "dark", "happy", "bright", "calm", "lively", "gentle", "dreamy", "triumphant", "soft",
             "loud", "mysterious", "melancholic", "energetic", "peaceful", "playful", "majestic"]
    instruments = ["", "piano", "violin", "cello", "flute", "guitar", "harp", "organ", "choir", "strings",
                   "brass", "trumpet", "clarinet", "drums", "bass", "oboe", "saxophone", "accordion", "marimba"]
    forms = ["melody", "tune", "line", "chords", "ballad", "waltz", "jig", "hymn", "groove", "riff", "chorale",
             "arpeggios", "counterpoint", "loop", "theme"]
    names = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
    keys = [""] * 6 + [f"in {k} {m}" for k in names for m in ("major", "minor")] + [f"in {k}" for k in names]
    meters = [""] * 8 + ["in 3/4", "in 6/8", "in 4/4", "in 2/4"]
    tempi = [""] * 8 + ["Andante", "Allegro", "Adagio", "Presto", "around 90 bpm", "at 120 bpm", "Moderato"]
    # fmt: on
    out = list(dict.fromkeys(TEXT_QUERIES))[:n]
    seen = set(out)
    while len(out) < n:
        parts = [rng.choice(p) for p in (moods, instruments, forms, keys, meters, tempi)]
        text = " ".join(str(p) for p in parts if p)
        if text not in seen:
            seen.add(text)
            out.append(text)
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
        row["hnsw"] = bench_hnsw(data, qs, truth)
        row["rss_mb_with_hnsw"] = round(rss_mb())
    log.info("%s", row)
    return row


def bench_hnsw(data: np.ndarray, qs: np.ndarray, truth: list[np.ndarray]) -> dict:
    """bridge.library.ann (faiss HNSW, int8 storage) on these vectors: the hard case (no duplicates, little
    structure), recall@10 by distance against exact."""
    from bridge.library import ann

    t = time.perf_counter()
    index = ann.build(_Vectors(data), threads=0)
    build_s = time.perf_counter() - t
    out: dict = {
        "params": f"{ann.BACKEND} HNSW SQ8 M={ann.CONNECTIVITY} ef_add={ann.EXPANSION_ADD}",
        "build_s": round(build_s, 1),
        "build_vectors_per_s": round(len(data) / build_s),
    }
    for ef in (64, 256):
        ms, recall = [], []
        saved, ann.EXPANSION_SEARCH = ann.EXPANSION_SEARCH, ef
        for q, true in zip(qs, truth):
            t = time.perf_counter()
            rows = index.groups.expand(index.nearest_groups(q, K))
            top = rows[np.argsort(-(data[rows] @ q))[:K]]
            ms.append((time.perf_counter() - t) * 1e3)
            true_scores = np.sort(data[true] @ q)[::-1]
            recall.append(float(np.mean(np.sort(data[top] @ q)[::-1] >= true_scores[-1] - 1e-6)))
        ann.EXPANSION_SEARCH = saved
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
            lib.forget_query_vectors()  # the text tower runs in every measured query
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
    ap.add_argument("--ann-sizes", default="10000,100000", help="sizes for exact vs bridge.library.ann")
    ap.add_argument(
        "--e2e-sizes", default="10000,100000", help="sizes for Library.search_with_info exact vs approximate"
    )
    ap.add_argument("--skip", default="", help="comma-separated: e2e,ann,vectors,library,index")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--cold", type=Path, help=argparse.SUPPRESS)  # internal: the fresh process of `e2e`
    args = ap.parse_args()
    if args.cold is not None:
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        cold_main(args.cold, args.queries)
        return
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    skip = set(filter(None, args.skip.split(",")))
    results: dict = announce()
    if "e2e" not in skip:
        results["end_to_end"] = [
            bench_end_to_end(int(n), max(50, args.queries // 2)) for n in args.e2e_sizes.split(",")
        ]
    if "ann" not in skip:
        results["ann"] = []
        for n in (int(s) for s in args.ann_sizes.split(",")):
            results["ann"].append(bench_ann(n, args.queries if n <= 100_000 else max(50, args.queries // 4)))
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
