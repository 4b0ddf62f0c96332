"""Ground-truth parsing of the key benchmark: ABC K: fields and chorale endings."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "key_accuracy.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("key_accuracy", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "field,expected",
    [
        ("G", (7, "major")),
        ("Am", (9, "minor")),
        ("E Minor", (4, "minor")),
        ("Ador", (9, "dorian")),
        ("D Mixolydian", (2, "mixolydian")),
        ("Bb", (10, "major")),
        ("F#m % comment", (6, "minor")),
        ("Es", (3, "major")),  # German spelling in Essen
        ("Hp", None),  # highland pipes: no key
    ],
)
def test_abc_key_fields(bench, field, expected):
    assert bench.parse_abc_key(field) == expected


def test_chorale_truth_from_signature_and_final_bass(bench):
    assert bench.chorale_truth(3, 9).name == "A major"  # three sharps ending on A
    assert bench.chorale_truth(3, 6).name == "F# minor"  # relative minor
    assert bench.chorale_truth(-1, 7).name == "G minor"  # Dorian signature
    assert bench.chorale_truth(0, 4) is None  # Phrygian ending on E: ambiguous


def test_abc_tunes_are_split_at_x_fields(bench):
    text = "%abc\nX:1\nT:a\nK:G\nGAB|\n\nX:2\nT:b\nK:D\nDEF|\n"
    tunes = bench.split_abc_tunes(text)
    assert [bench.header_field(t, "K") for t in tunes] == ["G", "D"]
