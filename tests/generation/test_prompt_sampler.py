import numpy as np
import pytest

from bridge.generation.metrics import prompt_suite
from bridge.generation.prompt import parse_prompt
from bridge.generation.sampler import sample


@pytest.mark.parametrize(
    "text,key,meter,tempo",
    [
        ("a slow melancholic waltz in D minor", "D minor", "3/4", 70),
        ("happy jig in G", "G major", "6/8", 108),
        ("F# minor reel, 120 bpm", "F# minor", "4/4", 120),
        ("a lively march in Bb major", "Bb major", "2/4", 126),
        ("sad hymn", "C minor", "4/4", 76),
        ("something in Eb", "Eb major", "4/4", 100),
    ],
)
def test_prompt_to_controls(text, key, meter, tempo):
    c = parse_prompt(text)
    assert (c.key_name, c.meter, c.tempo_bpm) == (key, meter, tempo)


def test_prompt_bars_and_unmatched_words():
    c = parse_prompt("a dreamy waltz in A minor, 24 bars")
    assert c.bars == 24 and c.key_given
    assert c.unmatched == ("dreamy",)  # left for the retrieval text tower (future work)
    assert not parse_prompt("a sad tune").key_given


def test_prompt_suite_names_every_key():
    suite = prompt_suite(48)
    keys = {parse_prompt(p).key_name for p in suite}
    assert len(keys) == 24
    assert all(parse_prompt(p).key_given for p in suite)


def test_sampler_is_seeded_and_respects_masks():
    logits = np.log(np.array([0.1, 0.2, 0.3, 0.4]))
    a = [sample(logits, np.random.default_rng(5)) for _ in range(3)]
    assert len(set(a)) == 1
    allowed = np.array([True, False, True, False])
    draws = {sample(logits, np.random.default_rng(i), allowed=allowed) for i in range(50)}
    assert draws <= {0, 2}
    assert sample(logits, np.random.default_rng(0), temperature=0) == 3
    # top-p keeps only the most likely token when it alone reaches p
    peaked = np.log(np.array([0.01, 0.01, 0.97, 0.01]))
    assert {sample(peaked, np.random.default_rng(i), top_p=0.9) for i in range(30)} == {2}
    # a soft bias moves the mass
    assert sample(logits, np.random.default_rng(0), temperature=0, bias=np.array([5.0, 0, 0, 0])) == 0
