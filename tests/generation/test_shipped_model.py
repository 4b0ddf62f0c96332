"""The shipped generation models load without torch and keep the asked key, mode and meter."""

import pytest

from bridge.generation.generate import generate_song_in_key
from bridge.generation.metrics import key_matches, meter_ok
from bridge.generation.prompt import parse_prompt
from bridge.generation.runtime import DEFAULT_MODEL_DIR, GenerationModels

pytestmark = pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "backbone.onnx").exists(), reason="no shipped model")


@pytest.mark.parametrize("prompt", ["a slow melancholic waltz in D minor", "a happy jig in G", "a march in Bb major"])
def test_shipped_models_follow_the_prompt(prompt):
    models = GenerationModels.load()
    c = parse_prompt(prompt).with_(bars=6, seed=3)
    song, _ = generate_song_in_key(models, c, retries=2)
    assert song.meter == c.meter and len(song.bars) == 6 and meter_ok(song)
    assert key_matches(song)
    assert sum(len(b.notes) for b in song.bars) >= 6  # a melody, not silence
