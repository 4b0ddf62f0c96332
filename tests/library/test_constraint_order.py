"""What the text states is honoured in musical order: a stated key beats every instrument word."""

from bridge.library.ranking import constraint_weight

CHECKS = [("key A minor", None), ("meter 3/4", None), ("tempo slow", None),
          ("instrument piano", None), ("instrument violin", None)]


def weight(label: str) -> float:
    return constraint_weight(label, CHECKS)


def test_each_constraint_outweighs_all_lower_ones_together():
    labels = [label for label, _ in CHECKS]
    for i, label in enumerate(labels[:3]):
        lower = labels[i + 1:]
        assert weight(label) > sum(weight(x) for x in lower), label



def test_a_family_fallback_weighs_less_than_its_instrument_and_preferences_nothing():
    checks = [("key A minor", None), ("instrument piano", None),
              ("instrument piano (matched family: keyboards)", None), ("prefers tempo <= 100 (sad)", None)]
    w = {label: constraint_weight(label, checks) for label, _ in checks}
    assert w["instrument piano"] > w["instrument piano (matched family: keyboards)"] > 0
    assert w["key A minor"] > w["instrument piano"] + w["instrument piano (matched family: keyboards)"]
    assert w["prefers tempo <= 100 (sad)"] == 0
    assert all(float(v).is_integer() for v in w.values())  # bridge.library.ann tiers by whole numbers
