"""The library keeps the text tower's vectors of recent texts: asking again (the next page, a filter added) does
not run the tower twice, and another encoder never gets the first one's vectors."""

from __future__ import annotations

import numpy as np

from bridge.library.library import QueryVectors


class CountingEncoder:
    dim, name = 4, "counting"

    def __init__(self, offset: float = 0.0):
        self.calls, self.offset = 0, offset

    def encode_text(self, texts):
        self.calls += len(texts)
        return np.array([[len(t) + self.offset, 1.0, 0.0, 0.0] for t in texts], dtype=np.float32)


def test_a_text_asked_again_is_encoded_once():
    cache, enc = QueryVectors(size=2), CountingEncoder()
    a = cache.get(enc, "sad piano")
    assert cache.get(enc, "sad piano") is a and enc.calls == 1
    assert not a.flags.writeable  # shared by every search that asks for it
    cache.get(enc, "a jig")
    cache.get(enc, "a waltz")  # past `size`: the least recent ("sad piano") goes
    cache.get(enc, "sad piano")
    assert enc.calls == 4


def test_another_encoder_starts_afresh_and_clear_forgets():
    cache, first, second = QueryVectors(), CountingEncoder(), CountingEncoder(offset=100.0)
    cache.get(first, "sad piano")
    v = cache.get(second, "sad piano")
    assert second.calls == 1 and v[0] == len("sad piano") + 100.0
    cache.clear()
    cache.get(second, "sad piano")
    assert second.calls == 2


def test_a_library_search_asked_twice_runs_the_text_tower_once(library_dir, db_dir):
    from library_fakes import FakeEncoder

    from bridge.library import Library, SearchQuery

    class Counting(FakeEncoder):
        texts = 0

        def encode_text(self, texts):
            Counting.texts += len(texts)
            return super().encode_text(texts)

    with Library.open(db_dir, encoder=Counting()) as lib:
        lib.index([library_dir])
        first = lib.search_with_info(SearchQuery(text="a sad tune", k=3))
        again = lib.search_with_info(SearchQuery(text="a sad tune", k=3, meter="4/4"))
        assert Counting.texts == 1 and first.ranking == again.ranking == "embedding"
        lib.forget_query_vectors()
        lib.search_with_info(SearchQuery(text="a sad tune", k=3))
        assert Counting.texts == 2
