"""With the shipped retrieval model: windows are embedded while indexed and queries rank by embedding."""

from __future__ import annotations

import pytest

from bridge.library import Library, SearchQuery
from bridge.library.windows import window_spans
from bridge.music import load_midi


@pytest.fixture(scope="module")
def encoder():
    from bridge.inference import RetrievalEncoders

    try:
        return RetrievalEncoders.load()
    except (FileNotFoundError, OSError) as e:
        pytest.skip(f"no shipped retrieval model yet: {e}")


def test_text_and_example_search_use_the_model(tmp_path, library_dir, encoder):
    with Library.open(tmp_path / "db", encoder=encoder) as lib:
        report = lib.index([library_dir], workers=2)
        assert report.embedded == report.windows > 0
        result = lib.search_with_info(SearchQuery(text="a chorale for four voices in D major", k=5))
        assert result.ranking == "embedding" and not result.warnings and len(result.hits) == 5
        assert result.hits[0].key == "D major" or not any(h.key == "D major" for h in lib.search(
            SearchQuery(text="x", key="D major", k=1)))  # fmt: skip
        example = next(library_dir.glob("chorale_*.mid"))
        piece = load_midi(example)
        first = window_spans(piece)[0]  # exactly what the index embedded for this file
        like = lib.search(SearchQuery(like_piece=piece.window(first.start_q, first.stop_q), k=1))
        assert like[0].file.endswith(example.name) and like[0].score > 0.99
