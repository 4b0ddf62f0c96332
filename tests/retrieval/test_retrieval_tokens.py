import numpy as np

from bridge.music import NoteList, Piece, load_midi
from bridge.tokens import (
    PAD_ID,
    bar_id,
    crop_ids,
    default_tokenizer,
    load_tokenizer,
    pad_batch,
    save_tokenizer,
    tokenize_piece,
)


def test_chorale_tokens_use_programs_tempo_and_meter(chorale_path):
    tok = default_tokenizer()
    ids = tokenize_piece(load_midi(chorale_path), tok)
    names = [tok[int(i)] for i in ids[:40]]
    assert ids.dtype == np.int32 and len(ids) > 100
    assert names[0] == "Bar_None"
    assert any(n.startswith("Program_") for n in names)
    assert any(n.startswith("Tempo_") for n in names)
    assert any(n.startswith("TimeSig_") for n in names)
    assert PAD_ID not in ids


def test_saved_config_reproduces_ids(tmp_path, chorale_path):
    tok = default_tokenizer()
    save_tokenizer(tok, tmp_path)
    again = load_tokenizer(tmp_path)
    piece = load_midi(chorale_path)
    assert np.array_equal(tokenize_piece(piece, tok), tokenize_piece(piece, again))
    assert len(again) == len(tok)


def test_empty_piece_gives_no_ids():
    assert len(tokenize_piece(Piece(NoteList.empty()))) == 0


def test_random_crop_starts_on_a_bar_and_fits(chorale_path):
    tok = default_tokenizer()
    ids = tokenize_piece(load_midi(chorale_path), tok)
    bar = bar_id(tok)
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(20):
        window = crop_ids(ids, 64, bar, rng)
        assert len(window) == 64 and window[0] == bar
        starts.add(tuple(window[:16]))
    assert len(starts) > 1  # the crop moves
    assert np.array_equal(crop_ids(ids, 64, bar), ids[:64])  # deterministic without rng
    assert np.array_equal(crop_ids(ids[:10], 64, bar, rng), ids[:10])


def test_pad_batch():
    out = pad_batch([np.array([5, 6, 7]), np.array([], dtype=np.int32)], max_len=2)
    assert out.shape == (2, 2) and out.dtype == np.int64
    assert out.tolist() == [[5, 6], [PAD_ID, PAD_ID]]
