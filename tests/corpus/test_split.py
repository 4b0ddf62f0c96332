from collections import Counter

from models.corpus.split import split_of


def test_split_is_deterministic_and_near_90_5_5():
    ids = [f"essen/tune{i}" for i in range(20000)]
    splits = [split_of(p) for p in ids]
    assert splits == [split_of(p) for p in ids]
    counts = Counter(splits)
    assert 0.88 < counts["train"] / len(ids) < 0.92
    assert 0.04 < counts["valid"] / len(ids) < 0.06
    assert 0.04 < counts["test"] / len(ids) < 0.06


def test_split_depends_on_piece_and_seed_only():
    assert split_of("oneill/x_1", seed="a") == split_of("oneill/x_1", seed="a")
    differs = sum(split_of(f"p{i}", seed="a") != split_of(f"p{i}", seed="b") for i in range(2000))
    assert differs > 50
