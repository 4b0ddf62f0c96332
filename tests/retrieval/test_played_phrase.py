"""The played-phrase benchmark of `eval retrieval` and the melodic index query by example ranks with."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from bridge.analysis.melody import MelodyIndex, interval_grams, piece_melody, shift_of, skyline
from bridge.music import NoteList, Piece, TempoChange

TUNE = [60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72, 71, 69, 67, 65]


def test_skyline_takes_the_top_of_each_chord_even_when_it_is_played_late():
    notes = NoteList.from_tuples([(0.0, 1, 48), (0.02, 1, 64), (1.0, 1, 50), (1.0, 1, 65), (2.0, 1, 67)])
    _, pitch = skyline(notes, merge=0.08)
    assert pitch.tolist() == [64, 65, 67]


def test_interval_grams_are_transposition_invariant():
    h, first, n = interval_grams(np.array(TUNE))
    h2, first2, _ = interval_grams(np.array(TUNE) + 5)
    assert h.tolist() == h2.tolist() and (first2 - first).tolist() == [5] * len(first)
    assert sorted(set(n.tolist())) == [3, 4, 5]
    assert len(interval_grams(np.array([60, 62]))[0]) == 0


def test_melody_index_finds_the_window_and_its_interval():
    rng = np.random.default_rng(0)
    windows = [rng.integers(55, 80, 24) for _ in range(30)]
    windows[17] = np.array([50, 52] + TUNE + [40, 41])
    index = MelodyIndex.build(windows)
    phrase = np.array(TUNE[2:12]) + 3  # part of it, played 3 semitones up
    score, shift = index.score(phrase)
    assert int(np.argmax(score)) == 17 and score[17] == pytest.approx(1.0)
    assert shift[17] == -3  # window ≈ phrase - 3
    # An octave lower is the same pitch class: shift 0. Without transposition, a moved phrase scores less.
    assert index.score(np.array(TUNE) - 12)[1][17] == 0
    assert index.score(phrase, transpose=False)[0][17] < 1.0
    assert shift_of(np.array([-12, 7, -7, 6])).tolist() == [0, -5, 5, 6]
    again = MelodyIndex.from_arrays(index.to_arrays())
    assert np.array_equal(again.score(phrase)[0], score)


def test_piece_melody_merges_chords_at_the_piece_tempo():
    # 40 ms apart: one chord at 60 BPM (0.04 quarters) and at 240 BPM (0.16 quarters) alike.
    for bpm in (60, 240):
        gap = 0.04 * bpm / 60 * 0.9
        notes = NoteList.from_tuples([(0, 1, 60), (gap, 1, 72), (1, 1, 62)])
        assert piece_melody(Piece(notes=notes, tempos=(TempoChange(0, bpm),))).tolist() == [72, 62]


@pytest.fixture(scope="module")
def shipped_model():
    from bridge.inference.retrieval import TEXT_CONFIG, default_model_dir

    if not (default_model_dir() / TEXT_CONFIG).is_file():
        pytest.skip("no retrieval model shipped")
    return default_model_dir()


def test_eval_retrieval_reports_played_phrases_against_the_baseline(tiny_corpus, shipped_model):
    from bridge.cli.main import main as cli

    args = ["eval", "retrieval", "--data", str(tiny_corpus), "--split", "test", "--played-only",
            "--played-queries", "24", "--json"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)["played_phrase"]
    assert report["queries"] == 24 and report["transpose"] is True
    assert set(report["results"]) == {"shipped", "model", "melody_only", "interval_ngrams"}
    for method in report["results"].values():
        for target in ("source_passage", "source_clip", "source_piece"):
            m = method[target]
            assert m["n"] == 24 and 0 <= m["top1"] <= m["top3"] <= m["top10"] <= 1 and 0 < m["MRR"] <= 1
    # The tiny corpus plays each tune in several versions: the piece is what a melody can find.
    assert report["results"]["shipped"]["source_piece"]["top3"] >= 0.9
    assert report["transpose_found"]["shipped"] >= 0.9
    assert report["query_ms"]["p50"] > 0 and report["cosine_weight"] in map(float, report["cosine_weight_sweep"])
    # Text part skipped; plain output has the table.
    res = CliRunner().invoke(cli, args[:-1] + ["--no-played-transpose"])
    assert res.exit_code == 0 and "| shipped | source passage |" in res.output and "transpose off" in res.output


def test_played_only_needs_queries(tiny_corpus, shipped_model):
    from bridge.cli.main import main as cli

    res = CliRunner().invoke(cli, ["eval", "retrieval", "--data", str(tiny_corpus), "--played-only",
                                   "--played-queries", "0"])
    assert res.exit_code != 0 and "--played-only needs --played-queries >= 1" in res.output
