"""With the shipped retrieval model: windows are embedded while indexed and queries rank by embedding."""

from __future__ import annotations

from bridge.library import Library, SearchQuery
from bridge.library.windows import window_spans
from bridge.music import load_midi


def test_text_and_example_search_use_the_model(tmp_path, library_dir, shipped_encoder):
    with Library.open(tmp_path / "db", encoder=shipped_encoder) as lib:
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
