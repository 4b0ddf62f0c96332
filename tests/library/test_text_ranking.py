"""Text search as a musician reads it (issue 15): preferences move the ranking and never exclude, instruments
match at the right grain with a labelled family fallback, and one score orders the list."""

from __future__ import annotations

import numpy as np
import pytest

from bridge import paths
from bridge.library import Library, SearchQuery, ranking
from bridge.query import parse_query

NOT_PIANOS = ("harpsichord", "church-organ", "concertina", "accordion", "viol-consort", "choir")


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    """The bundled example library, indexed with the shipped model (or by features when none is shipped)."""
    try:
        from bridge.inference import RetrievalEncoders

        encoder = RetrievalEncoders.load()
    except (FileNotFoundError, OSError):
        encoder = None
    lib = Library.open(tmp_path_factory.mktemp("bundled") / "db", encoder=encoder)
    lib.index([paths.bundled_library_dir()], workers=1)
    yield lib
    lib.close()


def _name(hit) -> str:
    return hit.file.rsplit("/", 1)[-1]


def test_readme_query_labels_only_pianos_as_piano(bundled):
    result = bundled.search_with_info(SearchQuery(text="sad piano melody in A minor", k=10))
    hits = result.hits
    assert len(hits) == 10
    for h in hits:
        is_piano = any("Piano" in i for i in h.instruments)
        if "instrument piano" in h.matched:
            assert is_piano, (_name(h), h.instruments)
        if any(n in _name(h) for n in NOT_PIANOS):
            assert "instrument piano" not in h.matched, _name(h)
        family = [m for m in h.matched if "matched family: keyboards" in m]
        if family:  # a labelled fallback: a keyboard, not a piano, and the instrument is not also listed missed
            assert not is_piano and "instrument piano" not in h.missed
    assert any("(matched family: keyboards)" in m for h in hits for m in h.matched)


def test_scores_never_rise_down_the_list(bundled):
    for text in ("sad piano melody in A minor", "a lively syncopated stride left hand", "fiddle tune in D major",
                 "soft impressionist piano", "a waltz for strings", "choir in F major, solemn", "reel"):
        scores = [h.score for h in bundled.search(SearchQuery(text=text, k=10))]
        assert scores == sorted(scores, reverse=True), (text, scores)
        assert all(0.0 <= s <= 1.0 for s in scores)


def test_lively_moves_the_ranking_but_excludes_nothing(bundled):
    snap = bundled.snapshot()
    c = parse_query("lively")
    checks = ranking.constraint_checks(snap, c)
    assert [ranking.check_kind(lbl) for lbl, _ in checks] == ["prefers"]
    assert all(ranking.constraint_weight(lbl, checks) == 0 for lbl, _ in checks)
    hits = bundled.search(SearchQuery(text="a lively tune", k=len(snap)))
    files = {_name(h) for h in hits}
    slow = [i for i in range(len(snap)) if snap.tempo[i] < 100]
    assert slow and any(_name_of(snap, i) in files for i in slow)  # slow windows still come back
    quick = [h for h in hits if h.tempo >= 112]
    top = hits[: len(quick)]
    assert sum(h.tempo >= 112 for h in top) > len(top) / 2  # ...but quicker ones lead


def _name_of(snap, i: int) -> str:
    return snap.files[snap.file_of[i]].rsplit("/", 1)[-1]


def test_a_stated_key_still_beats_every_preference(bundled):
    hits = bundled.search(SearchQuery(text="happy lively tune in A minor", k=5))
    assert hits[0].key == "A minor" and "key A minor" in hits[0].matched


def test_fold_score_is_the_ranking_and_keeps_raw_scores_without_checks():
    score = np.array([0.9, 0.1, 0.5, -0.2])
    assert np.allclose(ranking.fold_score(score, []), score)  # query by example: the raw similarity
    key = np.array([False, True, True, False])
    pref = np.array([True, False, True, False])
    checks = [("key A minor", key), ("prefers mode minor (sad)", pref)]
    folded = ranking.fold_score(score, checks)
    assert folded[2] > folded[1] > folded[0] > folded[3]  # the key first, then similarity + bonus
    assert np.all((folded >= 0) & (folded <= 1))
    # a preference only reorders near-equal similarities
    near = ranking.fold_score(np.array([0.50, 0.52]), [("prefers mode minor (sad)", np.array([True, False]))])
    far = ranking.fold_score(np.array([0.2, 0.9]), [("prefers mode minor (sad)", np.array([True, False]))])
    assert near[0] > near[1] and far[1] > far[0]


def test_family_fallback_ranks_between_the_instrument_and_nothing():
    c = parse_query("piano")
    (term,) = c.instruments
    labels = [f"instrument {term.label}", f"instrument {term.label} (matched family: {term.family_name})"]
    checks = [(labels[0], np.array([True, False, False])), (labels[1], np.array([False, True, False]))]
    folded = ranking.fold_score(np.array([0.0, 0.0, 0.0]), checks)
    assert folded[0] > folded[1] > folded[2]
    assert ranking.matched_missed(checks, 1) == ((labels[1],), ())
    assert ranking.matched_missed(checks, 2) == ((), (labels[0],))
