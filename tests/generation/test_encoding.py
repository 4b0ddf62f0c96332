import numpy as np
from gen_toys import toy_song

from bridge.analysis.key import estimate_key
from bridge.generation import vocab as V
from bridge.generation.encoding import (
    backbone_tokens,
    bars_from_backbone,
    melody_tokens,
    notes_from_melody_bar,
    song_from_notes,
    song_from_piece,
    song_to_piece,
    transpose_song,
)
from bridge.music import load_midi, save_midi


def test_vocab_ranges_are_disjoint_and_named():
    names = V.vocab().names
    assert len(names) == V.VOCAB_SIZE == len(set(names))
    assert names[V.CHORD0] == "CH_0_0_0" and names[V.PITCH0] == f"PITCH_{V.PITCH_LOW}"
    assert V.chord_of_token(V.chord_token(7, 4, 1)) == (7, 4, 1)
    assert V.key_of_token(V.key_token(2, "minor")) == (2, "minor")


def test_backbone_tokens_round_trip_chords_density_cadence():
    song = toy_song(meter="3/4")
    bars = bars_from_backbone(backbone_tokens(song))
    assert [(b.chords, b.density, b.cadence) for b in bars] == [(b.chords, b.density, b.cadence) for b in song.bars]


def test_melody_tokens_carry_chords_unmasked_and_notes_masked():
    song = toy_song()
    toks, mask = melody_tokens(song)
    assert len(toks) == len(mask)
    chord_positions = V.is_chord(toks)
    assert chord_positions.any() and not mask[chord_positions].any()  # chords are given, never predicted
    assert mask[toks == V.EOB].all()
    first_bar = toks[list(toks).index(V.BAR) + 1: list(toks).index(V.EOB)]
    assert notes_from_melody_bar(first_bar) == song.bars[0].notes


def test_harmonic_ids_carry_the_chord_in_force():
    t = np.array([V.BOS, V.BAR, V.DENS0, V.chord_token(7, 0, 0), V.chord_token(7, 0, 2), V.CAD, V.BAR])
    ids = V.harmonic_ids(t)
    g = V.harm_of_token(V.chord_token(7, 0, 0))
    assert list(ids) == [0, 0, 0, g, g, g, g]


def test_relation_table_is_transposition_invariant():
    table = V.harmonic_relation_table()
    h = lambda r, q: 1 + (r % 12) * len(V.QUALITIES) + q  # noqa: E731
    for k in range(12):
        assert table[h(7 + k, 0), h(0 + k, 0)] == table[h(7, 0), h(0, 0)]  # V against I, any key
    assert table[h(7, 0), h(0, 0)] != table[h(4, 1), h(0, 0)]  # V-I differs from iii-I
    assert (table[0] == 0).all() and (table[:, 0] == 0).all()


def test_transpose_moves_chords_and_pitches_together():
    song = toy_song(tonic=0)
    up = transpose_song(song, 2)
    assert up.tonic_pc == 2
    r0 = V.chord_of_token(song.bars[1].chords[0])[0]
    assert V.chord_of_token(up.bars[1].chords[0])[0] == (r0 + 2) % 12
    assert up.bars[0].notes[0][1] == song.bars[0].notes[0][1] + 2


def test_chord_labelling_from_four_voices_and_from_a_melody():
    # C major then G major block chords, one bar each of 4/4, soprano on top.
    lower = [[0, 4, 48], [0, 4, 55], [0, 4, 64], [4, 4, 43], [4, 4, 50], [4, 4, 59]]
    lead = [[0, 4, 72], [4, 4, 74]]
    song = song_from_notes(np.array(lead), np.array(lower), 0, "major", "4/4", 90)
    assert V.chord_of_token(song.bars[0].chords[0])[:2] == (0, 0)
    assert V.chord_of_token(song.bars[1].chords[0])[:2] == (7, 0)
    # Melody only: diatonic chords per half bar (A and E in C major -> Am, the only diatonic triad with both).
    lead = [[0, 1, 69], [1, 1, 76], [2, 1, 69], [3, 1, 76]]
    song = song_from_notes(np.array(lead), np.zeros((0, 3)), 0, "major", "4/4", 90)
    assert V.chord_of_token(song.bars[0].chords[0])[:2] == (9, 1)


def test_song_to_midi_has_chord_bass_and_melody_tracks(tmp_path):
    song = toy_song(tonic=2, mode="minor", meter="3/4")
    piece = song_to_piece(song)
    assert piece.track_names == ("chords", "bass", "melody")
    path = tmp_path / "x.mid"
    save_midi(piece, path)
    back = load_midi(path)
    assert len(set(back.notes.track.tolist())) == 3
    assert str(back.time_signature_at(0)) == "3/4"
    assert estimate_key(back.notes).name == "D minor"
    again = song_from_piece(back, 2, "minor")
    assert len(again.bars) == len(song.bars)
    assert [n[1] for n in again.bars[0].notes] == [n[1] for n in song.bars[0].notes]
