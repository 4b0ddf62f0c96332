"""The clip header: every window of a header model carries the whole clip's key, meter, tempo and programs."""

import numpy as np
import pytest

from bridge.analysis import estimate_key
from bridge.music import NoteList, Piece, load_midi
from bridge.tokens import (
    HEADER_LEN,
    KEY_CLASSES,
    NO_KEY,
    PAD_ID,
    MidiWindow,
    default_tokenizer,
    key_class,
    model_vocab_size,
    tokenize_piece,
)


@pytest.fixture(scope="module")
def tok():
    return default_tokenizer()


def test_key_class_is_the_analysed_key(chorale_path):
    piece = load_midi(chorale_path)
    key = estimate_key(piece.notes)
    assert key_class(piece) == (12 if key.mode == "minor" else 0) + key.tonic_pc
    assert key_class(Piece(NoteList.empty())) == NO_KEY


def test_header_names_key_meter_tempo_and_programs(tok, chorale_path):
    piece = load_midi(chorale_path)
    window = MidiWindow(tok, 64, header=True).of_piece(piece)
    assert len(window) == 64
    head = window[:HEADER_LEN]
    assert head[0] == len(tok.vocab) + key_class(piece)  # key ids follow the REMI vocabulary
    assert tok[int(head[1])].startswith("TimeSig_")
    assert tok[int(head[2])].startswith("Tempo_")
    programs = [tok[int(i)] for i in head[3:] if i != PAD_ID]
    assert programs and all(p.startswith("Program_") for p in programs)
    assert list(head[3 : 3 + len(programs)]) == sorted(head[3 : 3 + len(programs)])
    assert max(window) < model_vocab_size(tok, header=True) == len(tok.vocab) + KEY_CLASSES


def test_every_random_crop_keeps_the_same_header(tok, chorale_path):
    piece = load_midi(chorale_path)
    ids, key = tokenize_piece(piece, tok), key_class(piece)
    window = MidiWindow(tok, 48, header=True)
    rng = np.random.default_rng(0)
    crops = [window.of_ids(ids, key, rng) for _ in range(10)]
    assert all(len(c) == 48 for c in crops)
    assert all(np.array_equal(c[:HEADER_LEN], crops[0][:HEADER_LEN]) for c in crops)
    assert len({tuple(c[HEADER_LEN:]) for c in crops}) > 1  # the body moves
    assert all(c[HEADER_LEN] == window.bar for c in crops)  # and starts on a bar
    # Deterministic windows (evaluation, runtime) are the start of the clip, the same as of_piece.
    assert np.array_equal(window.of_ids(ids, key), window.of_piece(piece))


def test_missing_parts_of_the_header_are_pad(tok):
    window = MidiWindow(tok, 32, header=True)
    out = window.of_ids(np.array([tok.vocab["Bar_None"]]), NO_KEY)
    assert out[:HEADER_LEN].tolist() == [PAD_ID] * HEADER_LEN


def test_a_model_without_header_reads_plain_remi(tok, chorale_path):
    piece = load_midi(chorale_path)
    assert np.array_equal(MidiWindow(tok, 64).of_piece(piece), tokenize_piece(piece, tok)[:64])
    with pytest.raises(ValueError):
        MidiWindow(tok, HEADER_LEN, header=True)
