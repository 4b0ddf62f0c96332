"""Indexing with the shipped model tokenises windows on the analysis workers (bridge.library.ingest.TokenSpec)
and runs the tower on token ids batched across files: the vectors must equal the tower's on the pieces."""

from __future__ import annotations

import numpy as np

from bridge.library import Library, indexer
from bridge.library.ingest import TokenSpec, analyse_file, analyse_piece
from bridge.music import load_midi


def test_worker_token_ids_give_the_vectors_of_the_pieces(tmp_path, library_dir, shipped_encoder):
    spec = indexer.token_spec(shipped_encoder)
    assert isinstance(spec, TokenSpec)
    files = sorted(library_dir.glob("*.mid"))
    assert len(files) >= indexer.INLINE_BELOW  # enough to start the worker processes
    one = analyse_file(str(files[0]), want_pieces=True, tokens=spec)
    assert one.pieces is None and one.token_ids and len(one.token_ids) == len(one.windows)
    _info, _records, pieces = analyse_piece(load_midi(files[0]), want_pieces=True)
    for got, want in zip(one.token_ids, shipped_encoder.tokenize_pieces(pieces)):  # what the tower reads: identical
        assert np.array_equal(got, want)
    with Library.open(tmp_path / "db", encoder=shipped_encoder) as lib:
        report = lib.index([library_dir], workers=2)
        snap = lib.snapshot()
    assert report.embedded == report.windows == len(snap) > 0 and snap.has_vector.all()
    for f in files[:4]:
        _info, _records, pieces = analyse_piece(load_midi(f), want_pieces=True)
        rows = np.nonzero(snap.file_of == snap.files.index(str(f.resolve())))[0]
        # The int8 tower quantises activations per batch: vectors depend on the batch a window ran in (as they
        # always did), by far less than any ranking difference.
        want = shipped_encoder.encode_pieces(pieces)
        assert np.min(np.sum(snap.vectors[rows] * want, axis=1)) > 0.999


def test_an_encoder_without_a_token_spec_gets_pieces(tmp_path):
    class Bare:  # the Encoder protocol only: no model dir, no token ids
        name, dim = "bare", 4

    assert indexer.token_spec(Bare()) is None
