import numpy as np
import pytest

from models.retrieval.data import caption_entries
from models.retrieval.evaluate import both_directions
from models.retrieval.feature_baseline import parse_query, score_matrix
from models.retrieval.metrics import ranks_from_scores, summarize, target_ranks


def test_ranks_count_ties_half():
    scores = np.array([[0.9, 0.5, 0.1], [0.2, 0.2, 0.2]])
    assert target_ranks(scores, np.array([0, 1])).tolist() == [1.0, 2.0]  # row 2: two ties -> 1 + 2 * 0.5


def test_best_of_several_correct_counts():
    scores = np.array([[0.1, 0.8, 0.5]])
    correct = np.array([[True, False, True]])
    assert ranks_from_scores(scores, correct).tolist() == [2.0]


def test_summary():
    m = summarize(np.array([1, 2, 11, 4]))
    assert m["R@1"] == 0.25 and m["R@5"] == 0.75 and m["R@10"] == 0.75
    assert m["median_rank"] == 3.0 and m["MRR"] == pytest.approx((1 + 0.5 + 1 / 11 + 0.25) / 4)


def test_midi_to_text_treats_shared_sentences_as_correct_for_every_clip():
    queries = [("a jig", 0), ("a jig", 1), ("a slow air", 2)]
    scores = np.array([[0.9, 0.8, 0.1], [0.9, 0.8, 0.1], [0.1, 0.2, 0.9]])
    out = both_directions(scores, queries, 3)
    assert out["text_to_midi"]["n"] == 3
    assert out["midi_to_text"]["R@1"] == 1.0


def test_query_parser():
    q = parse_query("a lively jig in D major for fiddle at 120 bpm")
    assert (q.tonic_pc, q.mode, q.meter) == (2, "major", "6/8")
    assert q.tempo_range == pytest.approx((108, 132))
    assert q.instruments == {"violin"}
    assert parse_query("in a minor key, slow").tonic_pc is None  # lower-case "a" is an article
    assert parse_query("F# minor chorale").tonic_pc == 6
    assert parse_query("Bb waltz").meter == "3/4"


def test_feature_scores_rank_the_matching_clip_first():
    records = [
        {"key": "D", "mode": "major", "time_signature": "6/8", "tempo": 130, "instrument_summary": ["Violin"]},
        {"key": "A", "mode": "minor", "time_signature": "3/4", "tempo": 70, "instrument_summary": ["Piano"]},
    ]
    s = score_matrix(["a fast fiddle jig in D major", "a slow piano waltz in A minor", "something"], records)
    assert s[0].argmax() == 0 and s[1].argmax() == 1
    assert s[2].tolist() == [0, 0]


def test_caption_entries_accept_strings_and_objects():
    r = {"caption": "a", "captions": ["a", "b"], "phrasing_family": "plain"}
    assert caption_entries(r) == (("a", "plain"), ("b", "plain"))
    r = {"caption": "x", "captions": [{"text": "y", "family": "casual"}], "phrasing_family": "plain"}
    assert caption_entries(r) == (("x", "plain"), ("y", "casual"))
