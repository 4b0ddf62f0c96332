"""Acceptance: a temporary library of real MIDI files mixed with every kind of broken file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from library_fakes import FakeEncoder
from library_helpers import SKIPPED, copy_good_files, touch_later, write_bad_files

from bridge.library import Library, SearchQuery
from bridge.music import load_midi


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    root = tmp_path_factory.mktemp("lib")
    good = copy_good_files(root / "midi")
    bad = write_bad_files(root / "midi" / "broken")
    db = root / "db"
    with Library.open(db) as lib:
        report = lib.index([root / "midi"], workers=2)
    return root, good, bad, db, report


def test_good_files_are_all_searchable_and_bad_ones_reported(indexed):
    root, good, bad, db, report = indexed
    capped = set(bad) - SKIPPED
    assert report.files_seen == len(good) + len(bad)
    assert report.added == len(good) + len(capped)
    assert report.skipped_new == len(SKIPPED)
    with Library.open(db) as lib:
        hits = lib.search(SearchQuery(text="music", k=1000))
        found = {Path(h.file).name for h in hits}
        assert {p.name for p in good} <= found
        issues = {Path(i.path).name: i for i in lib.report()}
    assert set(issues) == set(bad)
    for name, word in bad.items():
        assert issues[name].status == ("skipped" if name in SKIPPED else "capped")
        assert word.lower() in issues[name].reason.lower(), (name, issues[name].reason)
    assert {i.path for i in report.issues} == {i.path for i in issues.values()}


def test_report_json_lists_skipped_and_capped(indexed):
    report = indexed[4].to_dict()
    assert {Path(i["path"]).name for i in report["skipped"]} == SKIPPED
    assert all(i["reason"] for i in report["skipped"] + report["capped"])


def test_a_query_naming_key_and_meter_returns_that_key_and_meter_first(indexed):
    _root, _good, _bad, db, _report = indexed
    with Library.open(db) as lib:
        snap = lib.snapshot()
        # A (key, meter) pair that the real files contain, other than the most common one.
        pairs = {(snap.key_names[i], snap.meters[snap.meter[i]]) for i in range(len(snap))}
        key, meter = sorted(p for p in pairs if p[1] != "4/4")[0]
        result = lib.search_with_info(SearchQuery(text=f"a tune in {key}, {meter} time", k=20))
    assert result.ranking == "features" and result.warnings
    assert result.constraints["key"] == key and result.constraints["meter"] == meter
    flags = [h.key == key and h.meter == meter for h in result.hits]
    assert flags[0], result.hits[0]
    assert flags == sorted(flags, reverse=True), "every window satisfying both comes before any other"
    assert len(result.hits) > sum(flags), "the rest still follows when fewer windows satisfy the query"


def test_hard_filters_and_hit_fields(indexed):
    db = indexed[3]
    with Library.open(db) as lib:
        hits = lib.search(SearchQuery(text="chorale", k=50, meter="4/4", min_bars=8, tempo=(60, 130)))
        assert hits
        for h in hits:
            assert h.meter == "4/4" and h.window_end_bar - h.window_start_bar + 1 >= 8 and 60 <= h.tempo <= 130
        h = hits[0]
        d = h.to_dict()
        assert set(d) >= {"file", "bars", "seconds", "score", "key", "tempo", "meter", "instruments"}
        assert d["seconds"][1] > d["seconds"][0] >= 0
        piece = lib.load_hit_piece(h)
        assert len(piece.notes) > 0 and piece.end <= h.end_quarters - h.start_quarters + 1e-6


def test_like_search_excludes_the_query_file(indexed):
    _root, good, _bad, db, _ = indexed
    query_file = good[0]
    with Library.open(db) as lib:
        piece = load_midi(query_file)
        hits = lib.search(SearchQuery(like_piece=piece, k=5, exclude_file=str(query_file.resolve())))
    assert hits and all(Path(h.file).name != query_file.name for h in hits)


def test_incremental_runs_rename_and_delete(tmp_path):
    lib_dir = tmp_path / "midi"
    good = copy_good_files(lib_dir)
    db = tmp_path / "db"
    with Library.open(db) as lib:
        first = lib.index([lib_dir], workers=1)
        again = lib.index(workers=1)  # no dirs: the folders indexed before
        assert again.unchanged == len(good) and again.added == again.updated == 0
        moved = lib_dir / "sub" / "renamed.mid"
        moved.parent.mkdir()
        shutil.move(good[0], moved)
        good[1].unlink()
        touch_later(good[2])
        third = lib.index([lib_dir], workers=1)
        assert (third.renamed, third.removed, third.added, third.updated) == (1, 1, 0, 0)
        files = {Path(h.file).name for h in lib.search(SearchQuery(text="x", k=500))}
        assert "renamed.mid" in files and good[0].name not in files and good[1].name not in files
        assert lib.stats()["files"] == first.added - 1


def test_embeddings_are_added_lazily_and_redone_on_model_change(tmp_path, library_dir):
    db = tmp_path / "db"
    with Library.open(db) as lib:
        report = lib.index([library_dir], workers=1)
        assert report.embedded == 0
    enc = FakeEncoder("fake-v1")
    with Library.open(db, encoder=enc) as lib:
        assert lib.search_with_info(SearchQuery(text="x")).ranking == "features"  # vectors not there yet
        report = lib.index(workers=1)
        assert report.embedded == report.windows > 0 and report.unchanged == report.files_seen
        result = lib.search_with_info(SearchQuery(text="x", k=3))
        assert result.ranking == "embedding" and not result.warnings
        assert lib.index(workers=1).embedded == 0  # same model: nothing to do
    with Library.open(db, encoder=FakeEncoder("fake-v2")) as lib:
        assert lib.index(workers=1).embedded == report.windows
        assert lib.stats()["model"].startswith("fake-v2")


def test_new_files_are_embedded_while_analysed(tmp_path, library_dir):
    enc = FakeEncoder()
    with Library.open(tmp_path / "db", encoder=enc) as lib:
        report = lib.index([library_dir], workers=2)
        assert report.embedded == report.windows == enc.pieces_encoded
        like = lib.search_with_info(SearchQuery(like_piece=load_midi(next(library_dir.glob("*.mid"))), k=3))
        assert like.ranking == "embedding" and like.hits[0].score > 0.9  # the file itself is most similar


def test_bundled_library_is_indexed_on_first_use(tmp_path, monkeypatch, library_dir):
    from bridge import paths

    monkeypatch.setattr(paths, "bundled_library_dir", lambda: library_dir)
    with Library.open(tmp_path / "db") as lib:
        assert lib.ensure_indexed() is not None
        assert lib.stats()["files"] > 0
        assert lib.ensure_indexed() is None  # once only


def test_one_index_run_at_a_time(tmp_path, library_dir):
    from bridge.library import LibraryBusy

    with Library.open(tmp_path / "db") as lib, lib._index_lock():
        with pytest.raises(LibraryBusy):
            lib.index([library_dir])


def test_a_worker_that_dies_skips_only_the_file_that_killed_it(tmp_path, library_dir, monkeypatch):
    monkeypatch.setenv("MIDIBRIDGE_INDEX_TEST_CRASH_ON", "chorale.mid")
    with Library.open(tmp_path / "db") as lib:
        report = lib.index([library_dir], workers=2)
        issues = {Path(i.path).name: i.reason for i in lib.report()}
    assert issues == {"chorale.mid": "the MIDI parser crashed on it"}
    assert report.added == len(list(library_dir.glob("*.mid"))) - 1


def test_searches_from_threads_while_indexing(tmp_path, library_dir, monkeypatch):
    """The daemon searches from worker threads; an index run may commit batches meanwhile."""
    import threading

    db = tmp_path / "db"
    with Library.open(db) as lib:
        lib.index([library_dir], workers=1)
    for i in range(12):
        shutil.copy(next(library_dir.glob("chorale_*.mid")), library_dir / f"more_{i}.mid")
    monkeypatch.setenv("MIDIBRIDGE_INDEX_TEST_BATCH_DELAY", "0.05")
    monkeypatch.setattr("bridge.library.indexer.BATCH_FILES", 2)  # many commits, many snapshot reloads
    errors: list[BaseException] = []
    counts: list[int] = []
    with Library.open(db) as lib:
        indexer = threading.Thread(target=lambda: lib.index([library_dir], workers=1))
        indexer.start()

        def searching():
            try:
                while indexer.is_alive():
                    counts.append(len(lib.search(SearchQuery(text="chorale in D major", k=500))))
            except BaseException as e:  # reported below
                errors.append(e)

        searchers = [threading.Thread(target=searching) for _ in range(2)]
        for t in searchers:
            t.start()
        indexer.join()
        for t in searchers:
            t.join()
        final = len(lib.search(SearchQuery(text="x", k=500)))
    assert not errors, errors
    assert counts and min(counts) >= 1 and final >= max(counts)


def test_snapshot_cache_is_used_only_for_its_own_generation(tmp_path, library_dir):
    db = tmp_path / "db"
    query = SearchQuery(text="chorale", k=500)
    with Library.open(db) as lib:
        lib.index([library_dir], workers=1)
        first = [h.to_dict() for h in lib.search(query)]
    caches = list((db / "snapshots").glob("*.npz"))
    assert len(caches) == 1
    with Library.open(db) as lib:  # served from the cache file
        assert [h.to_dict() for h in lib.search(query)] == first
    caches[0].write_bytes(b"damaged")
    with Library.open(db) as lib:  # a damaged cache is ignored (and rewritten)
        assert [h.to_dict() for h in lib.search(query)] == first
    shutil.copy(next(library_dir.glob("chorale_*.mid")), library_dir / "added.mid")
    with Library.open(db) as lib:
        lib.index(workers=1)
        names = {Path(h.file).name for h in lib.search(query)}
    assert "added.mid" in names
    assert len(list((db / "snapshots").glob("*.npz"))) == 1  # older generations are deleted


def test_instrument_filter_and_instrument_words(indexed):
    db = indexed[3]
    with Library.open(db) as lib:
        hits = lib.search(SearchQuery(text="x", instrument="choir", k=50))
        assert hits and all(any("Choir" in i or "Voice" in i for i in h.instruments) for h in hits)
        result = lib.search_with_info(SearchQuery(text="clarinet and choir", k=3))
    top = result.hits[0]
    assert set(top.matched) == {"instrument clarinet", "instrument choir"} and "Clarinet" in top.instruments


def test_drum_only_windows_have_no_key(tmp_path):
    import numpy as np
    import symusic

    lib_dir = tmp_path / "midi"
    lib_dir.mkdir()
    score = symusic.Score(480)
    track = symusic.Track(program=0, is_drum=True)
    n = 64
    track.notes = symusic.Note.from_numpy(
        time=(np.arange(n) * 240).astype(np.int32),
        duration=np.full(n, 120, np.int32),
        pitch=np.tile([36, 38, 42, 42], n // 4).astype(np.int8),
        velocity=np.full(n, 100, np.int8),
    )
    score.tracks.append(track)
    score.dump_midi(str(lib_dir / "beat.mid"))
    with Library.open(tmp_path / "db") as lib:
        lib.index([lib_dir], workers=1)
        (hit,) = lib.search(SearchQuery(text="drums", k=5))
        assert hit.key == "none" and hit.instruments == ("Drums",) and "instrument drums" in hit.matched
        assert lib.search(SearchQuery(text="x", key="C major")) == []
        assert lib.search(SearchQuery(text="x", mode="major")) == []
