"""The per-query shortcuts of a large library's text search (bridge.library.ranking.cached_mask, bridge.library.ann:
pattern codes, patterns scanned together, the graph-or-scan choice, the per-query code margin) return what the
plain paths return: the same masks, the same pattern codes, the same hits."""

from __future__ import annotations

import numpy as np
import pytest
from test_ann import VecEncoder, big_db, queries, ranked  # noqa: F401  (big_db: the module-scoped fixture)

from bridge.library import Library, ann, ranking
from bridge.query import parse_query

pytest.importorskip("faiss")

TEXTS = (
    "",
    "in A minor",
    "waltz",
    "in 5/4 in C major",
    "dark strings in 3/4",
    "sad piano melody in A minor",
    "happy bass loop",
    "peaceful bass line around 90 bpm",
    "dark piano chords in F#",
)


def test_cached_masks_equal_fresh_ones_are_shared_read_only_and_evicted(big_db, monkeypatch):  # noqa: F811
    db, _n = big_db
    monkeypatch.setattr(ranking, "MASK_CACHE_MIN_WINDOWS", 0)
    with Library.open(db, encoder=VecEncoder()) as lib:
        snap = lib.snapshot()
        ranking.clear_mask_cache(snap)
        for text in TEXTS:
            c = parse_query(text)
            cached = ranking.constraint_checks(snap, c)
            again = ranking.constraint_checks(snap, c)
            monkeypatch.setattr(ranking, "MASK_CACHE_SIZE", 0)  # off: computed afresh
            fresh = ranking.constraint_checks(snap, c)
            monkeypatch.setattr(ranking, "MASK_CACHE_SIZE", 48)
            assert [label for label, _ in cached] == [label for label, _ in fresh]
            for (_l, a), (_l2, b), (_l3, f) in zip(cached, again, fresh):
                assert a is b  # the second query stating it reads the cache
                assert not a.flags.writeable  # shared: no query may change it
                np.testing.assert_array_equal(a, f)
        # Another snapshot (another generation, or a subset) never sees these masks.
        sub = snap.take(np.arange(0, len(snap), 2))
        (_label, ok_sub), *_ = ranking.constraint_checks(sub, parse_query("in A minor"))
        (_label, ok_all), *_ = ranking.constraint_checks(snap, parse_query("in A minor"))
        np.testing.assert_array_equal(ok_sub, ok_all[::2])
        # Least recently used first out.
        ranking.clear_mask_cache(snap)
        monkeypatch.setattr(ranking, "MASK_CACHE_SIZE", 2)
        first = ranking.constraint_checks(snap, parse_query("in 3/4"))[0][1]
        ranking.constraint_checks(snap, parse_query("in 6/8"))
        assert ranking.constraint_checks(snap, parse_query("in 3/4"))[0][1] is first
        ranking.constraint_checks(snap, parse_query("in 4/4"))  # evicts 6/8, the least recently used
        assert ranking.constraint_checks(snap, parse_query("in 3/4"))[0][1] is first
        assert len(snap.__dict__["_mask_cache"]) == 2


@pytest.mark.parametrize("n_checks", [1, 3, 8, 9, 12])
def test_pattern_codes_equal_the_bitwise_definition(n_checks):
    rng = np.random.default_rng(n_checks)
    checks = [(f"c{i}", rng.random(5000) < rng.random()) for i in range(n_checks)]
    expected = np.zeros(5000, dtype=np.int64)
    for i, (_label, ok) in enumerate(checks):
        expected |= ok.astype(np.int64) << i
    code = ann._pattern_codes(checks, 5000)
    assert code.dtype == (np.uint8 if n_checks <= 8 else np.uint16)
    np.testing.assert_array_equal(code.astype(np.int64), expected)


def _hits(lib, snap, qs, texts, mask):
    out = []
    for i, q in enumerate(qs):
        checks = ranking.constraint_checks(snap, parse_query(texts[i % len(texts)]))
        out.append(ranked(lib, snap, q, mask, checks, 10, approximate=True))
    return out


@pytest.mark.parametrize("meter", [None, "4/4"])
def test_batched_patterns_and_the_scan_choice_keep_the_hits(big_db, monkeypatch, meter):  # noqa: F811
    db, _n = big_db
    monkeypatch.setenv(ann.ENV_MIN_WINDOWS, "0")
    monkeypatch.setattr(ann, "PREFILTER_MAX", 200)  # this small library: make the graph do the work
    with Library.open(db, encoder=VecEncoder()) as lib:
        lib.ann_build = "now"
        snap = lib.snapshot()
        mask = ranking.filter_mask(snap, ranking.Filters(meter=meter))
        qs = queries(snap, 27, seed=11)
        monkeypatch.setattr(ann, "BATCH_MIN_WINDOWS", 10**9)  # one pattern at a time
        plain = _hits(lib, snap, qs, TEXTS, mask)
        monkeypatch.setattr(ann, "BATCH_MIN_WINDOWS", 0)  # small patterns scanned together
        monkeypatch.setattr(ann, "BATCH_ROWS", 400)
        monkeypatch.setattr(ann, "SAMPLE_STEP", 4)
        assert _hits(lib, snap, qs, TEXTS, mask) == plain
        monkeypatch.setattr(ann, "SCAN_US_PER_ROW", 0.0)  # a large tier always scanned, never fetched
        scanned = _hits(lib, snap, qs, TEXTS, mask)
        monkeypatch.setattr(ann, "SCAN_US_PER_ROW", 1e9)  # always asked of the graph first
        fetched = _hits(lib, snap, qs, TEXTS, mask)
        same = 0
        for i, q in enumerate(qs):
            checks = ranking.constraint_checks(snap, parse_query(TEXTS[i % len(TEXTS)]))
            exact = ranked(lib, snap, q, mask, checks, 10, approximate=False)
            assert [s for _r, s in scanned[i]] == [s for _r, s in exact]  # a scan of the tier is exact
            same += [s for _r, s in fetched[i]] == [s for _r, s in exact]
            same += [s for _r, s in plain[i]] == [s for _r, s in exact]
        assert same >= 0.95 * 2 * len(qs)
