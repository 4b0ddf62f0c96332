"""Unknown prompt words matched through the retrieval text tower: only clear matches change a control."""

import numpy as np
import pytest
from click.testing import CliRunner

from bridge import paths
from bridge.generation.prompt import parse_prompt
from bridge.generation.word_match import Anchor, WordMatcher, best_anchor

TABLE = [Anchor("sad", "mode", "minor"), Anchor("happy", "mode", "major"), Anchor("slow", "tempo", 70.0),
         Anchor("fast", "tempo", 140.0), Anchor("very fast", "tempo", 168.0)]


def test_a_clear_match_is_taken():
    anchor, score = best_anchor(np.array([0.8, 0.3, 0.2, 0.1, 0.1]), TABLE)
    assert anchor.word == "sad" and score == pytest.approx(0.8)


def test_a_weak_match_is_refused():
    assert best_anchor(np.array([0.55, 0.3, 0.2, 0.1, 0.1]), TABLE) is None


def test_a_close_rival_with_another_value_is_refused():
    assert best_anchor(np.array([0.8, 0.75, 0.2, 0.1, 0.1]), TABLE) is None


def test_neighbouring_tempo_words_and_other_controls_are_no_rivals():
    assert best_anchor(np.array([0.1, 0.1, 0.2, 0.8, 0.78]), TABLE)[0].word == "fast"
    assert best_anchor(np.array([0.1, 0.1, 0.2, 0.8, 0.1]), TABLE)[0].word == "fast"
    assert best_anchor(np.array([0.75, 0.1, 0.2, 0.8, 0.1]), TABLE)[0].word == "fast"  # a mood is no rival


shipped = pytest.mark.skipif(not (paths.models_dir() / "retrieval" / "text_encoder.json").exists(),
                             reason="no shipped retrieval model")


@pytest.fixture(scope="module")
def matcher():
    from bridge.inference import RetrievalEncoders

    return WordMatcher(RetrievalEncoders.load())


@shipped
def test_shipped_tower_maps_unknown_mood_and_tempo_words(matcher):
    c = matcher.apply(parse_prompt("a grieving tune"))
    assert c.mode == "minor" and c.unmatched == ()
    c = matcher.apply(parse_prompt("a rapid tune in G major"))
    assert c.key_name == "G major" and c.tempo_bpm == 140.0


@shipped
def test_what_the_prompt_states_wins_and_nonsense_stays_unmatched(matcher):
    c = matcher.apply(parse_prompt("a grieving melody in C major"))
    assert c.key_name == "C major" and "grieving" in c.unmatched
    c = matcher.apply(parse_prompt("a sluggish tune"), tempo_given=True)
    assert c.tempo_bpm == parse_prompt("a sluggish tune").tempo_bpm
    assert matcher.apply(parse_prompt("a spreadsheet")).unmatched == ("spreadsheet",)


@shipped
def test_generate_cli_uses_the_tower(tmp_path):
    from bridge.cli.main import main

    out = tmp_path / "g.mid"
    result = CliRunner().invoke(main, ["generate", "a grieving tune", "--bars", "4", "--out", str(out), "--seed", "1",
                                       "--json"])
    assert result.exit_code == 0, result.output
    assert "grieving~mournful" in result.output and '"mode": "minor"' in result.output
