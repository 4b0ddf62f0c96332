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

