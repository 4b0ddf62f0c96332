"""The natural-query benchmark (issue 15): >= 150 queries as musicians type them, judged from labels, run
through the real library for features only, embedding only and the shipped hybrid in one report."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from models.retrieval.natural import HARD, METHODS, facet_ok, judge, ndcg_at, parse_facets
from models.retrieval.natural_queries import QUERIES


def test_at_least_150_distinct_queries_with_valid_facets():
    texts = [q for q, _ in QUERIES]
    assert len(texts) >= 150 and len(set(t.lower() for t in texts)) == len(texts)
    facets = [parse_facets(spec) for _, spec in QUERIES]
    assert sum(any(n in HARD for n, _ in f) for f in facets) >= 100  # most state something
    assert sum(not any(n in HARD for n, _ in f) for f in facets) >= 25  # some only describe a character


def test_queries_are_not_caption_templates():
    from models.corpus import captions  # the caption templates of the training corpus

    source = open(captions.__file__, encoding="utf-8").read().lower()
    assert not any(q.lower() in source for q, _ in QUERIES if len(q) > 12)


def test_judge_reads_labels_and_modes():
    clip = {"key": "D dorian", "analysis_key": "D minor", "mode": "dorian", "time_signature": "6/8", "tempo": 180.0,
            "instrument_summary": ["Violin", "Drums"], "mood": ["energetic"], "genre": "Irish folk tune",
            "dance": "jig", "dynamics": "f", "texture": "monophonic"}
    assert facet_ok("key", "D minor", clip) and not facet_ok("key", "D major", clip)
    assert facet_ok("instr", "fiddle", clip) and not facet_ok("instr", "piano", clip)
    assert facet_ok("style", "jig", clip) and facet_ok("tempo", "fast", clip) and facet_ok("bpm", "170-190", clip)
    rel, hard, soft = judge(parse_facets("key=D minor;instr=piano;style=jig"), [clip])
    assert rel[0] == pytest.approx(2 / 3) and hard[0] == 0.5 and soft[0] == 1.0
    with pytest.raises(ValueError, match="bad facet"):
        parse_facets("colour=blue")


def test_ndcg_is_one_for_the_ideal_order():
    rel = np.array([0.0, 1.0, 0.5, 0.0])
    assert ndcg_at(np.sort(rel)[::-1], rel) == pytest.approx(1.0)
    assert ndcg_at(rel, rel) < 1.0


def test_eval_retrieval_json_reports_the_three_methods(tiny_corpus, tmp_path):
    from bridge.cli.main import main

    try:
        from bridge.inference import RetrievalEncoders

        RetrievalEncoders.load()
    except (FileNotFoundError, OSError) as e:
        pytest.skip(f"no shipped retrieval model: {e}")
    result = CliRunner().invoke(main, ["eval", "retrieval", "--data", str(tiny_corpus), "--split", "test",
                                       "--natural-only", "--cache-dir", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)["natural_queries"]
    assert report["queries"] == len(QUERIES) and report["clips"] > 0
    assert set(report["results"]) == set(METHODS)
    for m in METHODS:
        for metric in ("nDCG@10", "constraint_satisfaction@10", "preference_satisfaction@10"):
            assert 0.0 <= report["results"][m][metric] <= 1.0
