"""The snapshot's word columns are integer codes and its instruments packed bits (bridge.library.snapshot):
every per-window check on them must equal the old definition on strings and unpacked flags, through SQLite
and through the snapshot cache."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bridge.library import ranking, snapshot_cache, store
from bridge.library.ingest import FileResult, WindowRecord
from bridge.library.snapshot import N_PROGRAMS, load_snapshot
from bridge.query import Constraints, InstrumentTerm, Preference, parse_instrument

TEXTURES = ("monophonic", "homophonic", "polyphonic")
REGISTERS = ("low", "mid", "high")
DYNAMICS = ("pp", "p", "mp", "mf", "f", "ff")
NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"]
FILE_WORDS = ("sad", "piano", "jig", "reel", "waltz", "dark", "loop", "fill")


def _records(n_files: int, seed: int = 0) -> list[FileResult]:
    rng = np.random.default_rng(seed)
    out = []
    for f in range(n_files):
        windows = []
        for w in range(int(rng.integers(1, 5))):
            pc, mode = int(rng.integers(12)), ("major", "minor")[int(rng.integers(2))]
            drums = rng.random() < 0.1
            programs = {int(p) for p in rng.integers(0, 128, int(rng.integers(1, 4)))} | ({128} if drums else set())
            hist = rng.random(12)
            windows.append(
                WindowRecord(
                    w * 4,
                    w * 4 + 8,
                    w * 16.0,
                    w * 16.0 + 32,
                    w * 8.0,
                    w * 8.0 + 16,
                    -1 if drums and len(programs) == 1 else pc,
                    "none" if drums and len(programs) == 1 else mode,
                    f"{NAMES[pc]} {mode}",
                    0.5 + 0.5 * float(rng.random()),
                    float(rng.integers(50, 200)),
                    ("Adagio", "Andante", "Allegro", "Presto")[int(rng.integers(4))],
                    ("4/4", "3/4", "6/8", "5/4")[int(rng.integers(4))],
                    tuple(sorted(programs)),
                    50,
                    REGISTERS[int(rng.integers(3))],
                    DYNAMICS[int(rng.integers(6))],
                    TEXTURES[int(rng.integers(3))],
                    tuple(float(x) for x in hist / hist.sum()),
                )  # fmt: skip
            )
        words = "_".join(FILE_WORDS[int(i)] for i in rng.integers(0, len(FILE_WORDS), 2))
        path = f"/lib/pack{f % 3}/{words}_{f:03d}.mid"
        out.append(FileResult(path, 100 + f, 1, f"hash{f % 17}", info={}, windows=tuple(windows)))
    return out


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """(snapshot from SQLite, the same from the cache, the window records in snapshot order, file paths)."""
    db = tmp_path_factory.mktemp("db")
    conn = store.connect(db)
    results = _records(60)
    with store.Transaction(conn):
        for r in results:
            store.write_result(conn, r, None, None)
    snap = load_snapshot(conn, None)
    path = snapshot_cache.cache_path(db, "test", snap.generation, None)
    snapshot_cache.save(snap, path)
    cached = snapshot_cache.load(path)
    conn.close()
    assert cached is not None
    records = [w for r in results for w in r.windows]  # window ids ascend in insertion order
    return snap, cached, records, [r.path for r in results]


def _flags(records) -> np.ndarray:
    out = np.zeros((len(records), N_PROGRAMS), dtype=bool)
    for i, w in enumerate(records):
        out[i, list(w.programs)] = True
    return out


def test_word_columns_decode_to_the_strings_written(loaded):
    for snap in loaded[:2]:
        records = loaded[2]
        assert list(snap.texture) == [w.texture for w in records]
        assert list(snap.register) == [w.register for w in records]
        assert list(snap.dynamics) == [w.dynamics for w in records]
        assert list(snap.key_names) == [w.key for w in records]
        assert [snap.tempo_words[i] for i in range(len(snap))] == [w.tempo_word for w in records]
        assert [snap.meters[m] for m in snap.meter] == [w.meter for w in records]
        assert np.array_equal(snap.programs, _flags(records))
        assert np.array_equal(snap.program_counts(chunk=7), _flags(records).sum(axis=0))
        assert [snap.instruments(i) for i in (0, 5, len(snap) - 1)] == [
            loaded[1].instruments(i) for i in (0, 5, len(snap) - 1)
        ]


def test_preference_checks_equal_the_string_definition(loaded):
    records = loaded[2]
    column = {"texture": [w.texture for w in records], "register": [w.register for w in records],
              "dynamics": [w.dynamics for w in records]}  # fmt: skip
    values = {"texture": TEXTURES + ("absent",), "register": REGISTERS, "dynamics": DYNAMICS}
    for snap in loaded[:2]:
        for kind in ("texture", "register"):
            for value in values[kind]:
                got = ranking.preference_match(snap, Preference(kind, value, "w"))
                assert np.array_equal(got, np.array([v == value for v in column[kind]]))
        for size in (1, 2, 3, 5, 6):  # compares (<= 4 words) and the table look-up (more)
            for wanted in itertools.islice(itertools.combinations(DYNAMICS + ("zz",), size), 6):
                got = ranking.preference_match(snap, Preference("dynamics", wanted, "w"))
                assert got.dtype == bool
                assert np.array_equal(got, np.array([v in set(wanted) for v in column["dynamics"]]))


def test_instrument_masks_equal_the_unpacked_definition(loaded):
    flags = _flags(loaded[2])
    terms = [parse_instrument(w) for w in ("piano", "violin", "strings", "drums", "guitar")]
    terms.append(InstrumentTerm("every program", frozenset(range(N_PROGRAMS))))
    for snap in loaded[:2]:
        for term in terms:
            want = flags[:, sorted(term.programs)].any(axis=1)
            assert np.array_equal(ranking._instrument_mask(snap, term), want)


def test_feature_scores_equal_the_old_definitions(loaded):
    snap, cached, records, paths = loaded
    flags = _flags(records)
    example = np.zeros(N_PROGRAMS, dtype=bool)
    example[[0, 40, 128]] = True
    hist = np.arange(12, dtype=np.float32)
    for s in (snap, cached):
        got = ranking.feature_like_score(s, hist, 120.0, "3/4", example)
        h = hist / np.linalg.norm(hist)
        pitch = (s.pc_hist @ h) / np.maximum(np.linalg.norm(s.pc_hist, axis=1), 1e-9)
        tempo = 1.0 / (1.0 + np.abs(np.log2(np.maximum(s.tempo, 1.0) / 120.0)) * 4)
        meter = np.array([w.meter == "3/4" for w in records], dtype=np.float32)
        jaccard = (flags & example).sum(axis=1) / np.maximum((flags | example).sum(axis=1), 1)
        np.testing.assert_allclose(got, 0.6 * pitch + 0.15 * tempo + 0.1 * meter + 0.15 * jaccard, rtol=1e-6)
        for words in ({"sad", "jig"}, {"waltz"}, {"nothing", "piano", "loop"}):
            want = np.array([ranking._name_overlap(p, words) for p in paths], dtype=np.float32)
            np.testing.assert_array_equal(ranking.name_overlap(s, words), want)
            score = ranking.feature_text_score(s, Constraints(words=tuple(sorted(words))))
            np.testing.assert_allclose(score, 0.98 * want[s.file_of] + 0.02 * s.key_confidence, rtol=1e-6)


def test_excluding_a_file_equals_the_loop_over_files(loaded):
    snap, _cached, _records_, paths = loaded
    for exclude_file, exclude_hash in ((paths[4], None), (None, "hash3"), (paths[0], "hash5"), ("/nowhere", "x")):
        pairs = enumerate(zip(snap.files, snap.file_hashes))
        bad = [i for i, (p, h) in pairs if p == exclude_file or h == exclude_hash]
        want = ~np.isin(snap.file_of, bad)
        got = ranking.filter_mask(snap, ranking.Filters(exclude_file=exclude_file, exclude_hash=exclude_hash))
        assert np.array_equal(got, want)


def test_take_keeps_codes_and_vocabularies(loaded):
    snap = loaded[0]
    rows = np.array([1, 3, 8, 20])
    part = snap.take(rows)
    assert list(part.texture) == [snap.texture[i] for i in rows]
    assert part.texture_vocab == snap.texture_vocab
    assert np.array_equal(part.programs, snap.programs[rows])


def test_rows_of_the_mapped_matrix_read_by_pread_equal_the_map(tmp_path):
    conn = store.connect(tmp_path)
    results = _records(30, seed=2)
    rng = np.random.default_rng(1)
    with store.Transaction(conn):
        for r in results:
            store.write_result(conn, r, rng.standard_normal((len(r.windows), 16)).astype(np.float32), "m")
    snap = load_snapshot(conn, "m")
    conn.close()
    path = snapshot_cache.cache_path(tmp_path, "t", snap.generation, "m")
    snapshot_cache.save(snap, path)
    mapped = snapshot_cache.load(path)
    assert getattr(mapped.vectors, "filename", None) is not None  # a memory map
    for rows in (np.array([0]), np.array([1, 2, 3, 7, 8, 20]), np.arange(len(snap)), np.array([4, 2])):
        assert np.array_equal(mapped.vector_rows(rows), snap.vectors[rows])
    part = mapped.take(np.array([3, 4, 5, 9]))
    assert np.array_equal(part.vectors, snap.vectors[[3, 4, 5, 9]])
