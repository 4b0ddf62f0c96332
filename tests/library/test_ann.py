"""Approximate search (bridge.library.ann): recall on a duplicate-heavy library, filters and constraint tiers
that keep the exact results, the automatic switch by size, and the saved index (reused, damaged, pruned)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import pytest

from bridge.library import Library, SearchQuery, ann, ranking, snapshot_cache, store
from bridge.library.ingest import FileResult, WindowRecord
from bridge.library.types import model_key

pytest.importorskip("faiss")

DIM = 32
NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"]
METERS = ["4/4"] * 12 + ["3/4"] * 4 + ["6/8"] * 2 + ["5/4"]  # 5/4 is rare: a filter that leaves few windows


def duplicate_heavy(n_files: int, seed: int = 0) -> list[np.ndarray]:
    """Per file, its windows' vectors: a third exact copies of an earlier file (the same clip in several packs),
    a fifth transposed copies (a small fixed shift per semitone), loops whose windows are all equal."""
    rng = np.random.default_rng(seed)
    latent = 8
    basis = rng.standard_normal((latent, DIM)).astype(np.float32)
    shifts = 0.3 * rng.standard_normal((12, latent)).astype(np.float32)
    originals: list[np.ndarray] = []
    files = []
    for _ in range(n_files):
        r = rng.random()
        if originals and r < 0.35:
            lat = originals[int(rng.integers(len(originals)))]
        elif originals and r < 0.55:
            lat = originals[int(rng.integers(len(originals)))] + shifts[int(rng.integers(12))]
        else:
            w = int(rng.integers(1, 7))
            c = rng.standard_normal(latent).astype(np.float32)
            lat = np.repeat(c[None], w, 0) if r < 0.65 else c + np.cumsum(0.4 * rng.standard_normal((w, latent)), 0)
            originals.append(lat.astype(np.float32))
        v = lat @ basis
        files.append((v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32))
    return files


class VecEncoder:
    """Text -> a fixed random unit vector per text (the library's vectors are written directly)."""

    name = "vec-test"
    dim = DIM
    fingerprint = "1"

    def encode_text(self, texts):
        out = []
        for t in texts:
            seed = int(hashlib.sha1(t.encode()).hexdigest()[:8], 16)
            v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
            out.append(v / np.linalg.norm(v))
        return np.stack(out)

    def encode_pieces(self, pieces):
        return self.encode_text([str(i) for i in range(len(pieces))])


def write_library(db: Path, n_files: int, encoder=None, seed: int = 0) -> int:
    """An index of synthetic files through the store, as an index run writes it; returns its window count."""
    encoder = encoder or VecEncoder()
    rng = np.random.default_rng(seed + 1)
    conn = store.connect(db)
    windows = 0
    with store.Transaction(conn):
        store.add_roots(conn, [str(db / "synthetic")])
        for f, vecs in enumerate(duplicate_heavy(n_files, seed)):
            records = []
            for w in range(len(vecs)):
                pc, mode = int(rng.integers(12)), ("major", "minor")[int(rng.integers(2))]
                hist = rng.random(12)
                records.append(WindowRecord(
                    w * 4, w * 4 + 8, w * 16.0, w * 16.0 + 32, w * 8.0, w * 8.0 + 16, pc, mode, f"{NAMES[pc]} {mode}",
                    0.8, float(rng.integers(60, 180)), "Allegro", METERS[int(rng.integers(len(METERS)))],
                    tuple(sorted({int(rng.integers(0, 80)), 0})), 100, "mid", "mf", "homophonic",
                    tuple(float(x) for x in hist / hist.sum())))  # fmt: skip
            windows += len(records)
            result = FileResult(f"/synthetic/file_{f:05d}.mid", 1000, 1, f"h{f}", info={}, windows=tuple(records))
            store.write_result(conn, result, vecs, model_key(encoder))
    conn.close()
    return windows


@pytest.fixture(scope="module")
def big_db(tmp_path_factory) -> tuple[Path, int]:
    db = tmp_path_factory.mktemp("ann") / "db"
    return db, write_library(db, 2500)


def queries(snap, m: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q = snap.vectors[rng.integers(len(snap), size=m)] + 0.15 * rng.standard_normal((m, snap.vectors.shape[1]))
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def test_dedup_groups_identical_vectors_and_maps_back_to_every_window():
    v = np.array([[1, 0], [0, 1], [1, 0], [0.6, 0.8], [0, 1], [1, 0]], dtype=np.float32)
    has = np.array([True, True, True, True, True, False])
    g = ann.dedup(v, has)
    assert len(g) == 3
    assert g.of.tolist() == [0, 1, 0, 2, 1, -1]
    assert sorted(g.expand(np.array([0])).tolist()) == [0, 2]
    assert sorted(g.expand(np.array([2, 1])).tolist()) == [1, 3, 4]


def test_recall_at_10_on_a_duplicate_heavy_library(big_db, monkeypatch):
    """Scored by distance: a hit whose cosine reaches the exact 10th best counts (ties among copies are not misses)."""
    db, n = big_db
    monkeypatch.setenv(ann.ENV_MIN_WINDOWS, "0")
    with Library.open(db, encoder=VecEncoder()) as lib:
        lib.ann_build = "now"
        snap = lib.snapshot()
        index = lib.vector_index(snap)
        assert index is not None and len(index) < 0.8 * n  # the copies and loops were merged
        recalls = []
        for q in queries(snap, 100):
            exact = np.sort(np.einsum("ij,j->i", snap.vectors, q))[::-1][:10]
            rows = index.groups.expand(index.nearest_groups(q, 10))
            found = np.sort(snap.vectors[rows] @ q)[::-1][:10]
            recalls.append(float(np.mean(found >= exact[-1] - 1e-6)))
        assert np.mean(recalls) >= 0.95


def ranked(lib: Library, snap, q: np.ndarray, mask, checks, k: int, approximate: bool):
    if approximate:
        rows, score = lib.vector_index(snap).candidates(snap, q, mask, checks, k)
        sub, sub_checks = snap.take(rows), [(c, ok[rows]) for c, ok in checks]
        return [
            (int(rows[r.index]), round(r.score, 5))
            for r in ranking.rank(sub, np.ones(len(rows), bool), sub_checks, score, k)
        ]
    score = np.where(snap.has_vector, np.einsum("ij,j->i", snap.vectors, q), -1.0)
    return [(r.index, round(r.score, 5)) for r in ranking.rank(snap, mask, checks, score, k)]


@pytest.mark.parametrize(
    "filters",
    [
        ranking.Filters(),
        ranking.Filters(meter="5/4"),  # rare: scored exactly (pre-filter)
        ranking.Filters(meter="4/4"),  # common: over-fetch from the graph, then re-rank
        ranking.Filters(tonic_pc=9, mode="minor"),
    ],
)
def test_filters_and_tiers_keep_the_exact_results(big_db, monkeypatch, filters):
    db, _n = big_db
    monkeypatch.setenv(ann.ENV_MIN_WINDOWS, "0")
    monkeypatch.setattr(ann, "PREFILTER_MAX", 200)  # this small library: make the graph do the work
    from bridge.query import parse_query

    with Library.open(db, encoder=VecEncoder()) as lib:
        lib.ann_build = "now"
        snap = lib.snapshot()
        mask = ranking.filter_mask(snap, filters)
        same = 0
        qs = queries(snap, 25, seed=3)
        for i, q in enumerate(qs):
            # Constraint tiers (one of them rare) and preferences ("dark": minor, slow, low) that re-order a tier.
            text = ("", "in A minor", "waltz", "in 5/4 in C major", "dark strings in 3/4")[i % 5]
            checks = ranking.constraint_checks(snap, parse_query(text))
            exact = ranked(lib, snap, q, mask, checks, 10, approximate=False)
            approx = ranked(lib, snap, q, mask, checks, 10, approximate=True)
            assert len(approx) == len(exact)
            same += [s for _i, s in approx] == [s for _i, s in exact]
        assert same >= 0.95 * len(qs)


def test_search_switches_to_approximate_by_size_and_says_so(big_db, monkeypatch):
    db, n = big_db
    monkeypatch.setenv(ann.ENV_MIN_WINDOWS, str(n + 1))
    with Library.open(db, encoder=VecEncoder()) as lib:
        lib.ann_build = "now"
        assert lib.search_mode() == "exact"
        assert lib.stats()["search"] == "exact"
        exact = lib.search_with_info(SearchQuery(text="dark strings in 3/4", k=10))
    monkeypatch.setenv(ann.ENV_MIN_WINDOWS, str(n // 2))
    with Library.open(db, encoder=VecEncoder()) as lib:
        lib.ann_build = "now"
        approx = lib.search_with_info(SearchQuery(text="dark strings in 3/4", k=10))
        mode = lib.search_mode()
        assert mode.startswith(f"approximate ({ann.BACKEND}, ") and mode.endswith(" unique vectors)")
        assert lib.stats()["search"] == mode
    assert approx.windows_searched == exact.windows_searched == n
    assert [h.score for h in approx.hits] == pytest.approx([h.score for h in exact.hits], abs=1e-5)
    # Opened without the model (`library stats`), the saved index still tells which search is used.
    with Library.open(db) as lib:
        assert lib.stats()["search"] == mode


def test_bad_threshold_is_one_clear_warning_and_the_default(monkeypatch, caplog):
    monkeypatch.setenv(ann.ENV_MIN_WINDOWS, "lots")
    with caplog.at_level("WARNING", logger="bridge.library.ann"):
        assert ann.min_windows() == ann.ANN_MIN_WINDOWS
        assert ann.min_windows() == ann.ANN_MIN_WINDOWS
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["MIDIBRIDGE_ANN_MIN_WINDOWS must be a whole number of windows >= 0, got 'lots': using 50000"]
    monkeypatch.setenv(ann.ENV_MIN_WINDOWS, "-3")
    assert ann.min_windows() == ann.ANN_MIN_WINDOWS


def test_saved_index_is_reused_and_a_damaged_one_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv(ann.ENV_MIN_WINDOWS, "0")
    db = tmp_path / "db"
    write_library(db, 300)
    with Library.open(db, encoder=VecEncoder()) as lib:
        lib.ann_build = "now"
        built = lib.vector_index(lib.snapshot())
        first = lib.search(SearchQuery(text="calm", k=5))
    graphs = list((db / snapshot_cache.CACHE_DIR).glob(f"*{ann.GRAPH_SUFFIX}"))
    assert len(graphs) == 1
    with Library.open(db, encoder=VecEncoder()) as lib:
        lib.ann_build = "never"  # saved index only: it must be found
        assert len(lib.vector_index(lib.snapshot())) == len(built)
        assert lib.search(SearchQuery(text="calm", k=5)) == first
    graphs[0].write_bytes(b"\0" * 100)  # damaged (a crash of another tool, a full disk)
    with Library.open(db, encoder=VecEncoder()) as lib:
        lib.ann_build = "never"
        assert lib.vector_index(lib.snapshot()) is None  # ignored, and search is exact
        assert lib.search(SearchQuery(text="calm", k=5)) == first
        lib.ann_build = "now"
        assert len(lib.vector_index(lib.snapshot())) == len(built)  # rebuilt and saved again
    with Library.open(db, encoder=VecEncoder()) as lib:
        lib.ann_build = "never"
        assert lib.vector_index(lib.snapshot()) is not None


def test_a_new_generation_gets_a_new_index_and_the_old_files_go(tmp_path, monkeypatch):
    monkeypatch.setenv(ann.ENV_MIN_WINDOWS, "0")
    db = tmp_path / "db"
    write_library(db, 200)
    with Library.open(db, encoder=VecEncoder()) as lib:
        lib.ann_build = "now"
        old = lib.vector_index(lib.snapshot())
        write_library(db, 250, seed=5)  # another commit: files rewritten, a new generation
        snap = lib.snapshot()
        new = lib.vector_index(snap)
        assert new.generation == snap.generation != old.generation and new.n_rows == len(snap)
    names = [p.name for p in (db / snapshot_cache.CACHE_DIR).iterdir()]
    assert all(f"-g{snap.generation}-" in name for name in names), names


def test_background_build_searches_exactly_meanwhile(tmp_path, monkeypatch):
    monkeypatch.setenv(ann.ENV_MIN_WINDOWS, "0")
    db = tmp_path / "db"
    write_library(db, 300)
    with Library.open(db, encoder=VecEncoder()) as lib:
        lib.ann_build = "background"
        exact = lib.search(SearchQuery(text="warm", k=5))  # the graph is not there yet: exact
        deadline = time.monotonic() + 60
        while lib.vector_index(lib.snapshot()) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lib.search_mode().startswith("approximate")
        assert [h.score for h in lib.search(SearchQuery(text="warm", k=5))] == pytest.approx([h.score for h in exact])


def test_cached_vectors_are_memory_mapped_and_match_sqlite(tmp_path):
    db = tmp_path / "db"
    write_library(db, 120)
    with Library.open(db, encoder=VecEncoder()) as lib:
        from_sqlite = lib.snapshot()  # read from SQLite, then cached
    with Library.open(db, encoder=VecEncoder()) as lib:
        cached = lib.snapshot()
    assert isinstance(cached.vectors, np.memmap)
    np.testing.assert_array_equal(np.asarray(cached.vectors), from_sqlite.vectors)
    np.testing.assert_array_equal(cached.has_vector, from_sqlite.has_vector)


def test_a_vector_file_killed_mid_write_leaves_the_previous_cache_usable(tmp_path):
    """SIGKILL while the next generation's vector file is being written: no file under a real name is half
    written, the previous generation's cache still loads, and the index itself (SQLite) is untouched."""
    import os
    import subprocess
    import sys

    db = tmp_path / "db"
    write_library(db, 120)
    with Library.open(db, encoder=VecEncoder()) as lib:
        old = lib.snapshot()
        conn = store.connect(db)
        db_id = store.get_meta(conn, "db_id")
        conn.close()
    old_path = snapshot_cache.cache_path(db, db_id, old.generation, old.model)
    new_path = snapshot_cache.cache_path(db, db_id, old.generation + 1, old.model)
    code = f"""
import os, signal, numpy as np
from pathlib import Path
from bridge.library import snapshot_cache
snap = snapshot_cache.load(Path({str(old_path)!r}))
def dying_save(f, a, *args, **kw):  # half the matrix, then the process is killed
    f.write(np.asarray(a).tobytes()[: a.nbytes // 2]); f.flush(); os.kill(os.getpid(), signal.SIGKILL)
np.save = dying_save
snapshot_cache.save(snap, Path({str(new_path)!r}))
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], env=dict(os.environ))
    assert proc.returncode == -9
    names = [p.name for p in old_path.parent.iterdir()]
    assert not any(n.startswith(new_path.name[: -len(".npz")]) for n in names), names  # only a hidden temp file
    again = snapshot_cache.load(old_path)
    assert again is not None and again.generation == old.generation
    np.testing.assert_array_equal(np.asarray(again.vectors), old.vectors)
    with Library.open(db, encoder=VecEncoder()) as lib:
        assert lib.search(SearchQuery(text="calm", k=3))


def test_a_damaged_vector_file_means_reading_sqlite(tmp_path):
    db = tmp_path / "db"
    write_library(db, 120)
    with Library.open(db, encoder=VecEncoder()) as lib:
        first = lib.snapshot()
    (vec,) = (db / snapshot_cache.CACHE_DIR).glob(f"*{snapshot_cache.VECTORS_SUFFIX}")
    vec.write_bytes(vec.read_bytes()[:200])  # truncated
    with Library.open(db, encoder=VecEncoder()) as lib:
        again = lib.snapshot()
    assert not isinstance(again.vectors, np.memmap)  # from SQLite
    np.testing.assert_array_equal(again.vectors, first.vectors)


def test_an_index_run_above_the_threshold_builds_and_saves_the_index(library_dir, db_dir, monkeypatch):
    from library_fakes import FakeEncoder

    monkeypatch.setenv(ann.ENV_MIN_WINDOWS, "1")
    stages = []
    with Library.open(db_dir, encoder=FakeEncoder()) as lib:
        report = lib.index([library_dir], progress=lambda stage, done, total: stages.append((stage, done, total)))
        assert report.windows > 0
    assert stages[-1][0] == "ann" and stages[-1][1] == stages[-1][2] > 0
    with Library.open(db_dir, encoder=FakeEncoder()) as lib:
        lib.ann_build = "never"  # as `midibridge search`: the saved index only
        assert lib.search_mode() == f"approximate ({ann.BACKEND}, {stages[-1][2]} unique vectors)"
        assert lib.search(SearchQuery(text="a chorale", k=3))
    monkeypatch.setenv(ann.ENV_MIN_WINDOWS, str(report.windows + 1))
    with Library.open(db_dir, encoder=FakeEncoder()) as lib:
        lib.index([library_dir])  # nothing changed, below the threshold: nothing built
        assert lib.search_mode() == "exact"


def test_patterns_a_filter_rules_out_are_never_visited():
    # check 0 (a meter the hard filter excludes) is met by no window inside the mask, check 1 by every one,
    # check 2 by some: only patterns with bit 0 clear and bit 1 set remain.
    n = 64
    mask = np.zeros(n, bool)
    mask[:32] = True
    meter = np.zeros(n, bool)
    meter[40:] = True  # only outside the filter
    family = np.ones(n, bool)
    key = np.arange(n) % 3 == 0
    checks = [("meter", meter), ("family", family), ("key", key)]
    assert sorted(ann._possible_patterns(checks, mask).tolist()) == [0b010, 0b110]
    assert sorted(ann._possible_patterns(checks, None).tolist()) == [0b010, 0b011, 0b110, 0b111]
    assert ann._possible_patterns([], mask).tolist() == [0]
