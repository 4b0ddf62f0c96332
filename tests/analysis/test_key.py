"""Key estimation on real music, with key signatures that lie, and under transposition."""

from dataclasses import replace

import numpy as np
import pytest
from analysis_music import abc_tune, make_piece, melody

from bridge.analysis import estimate_key
from bridge.music import KeySignature, NoteList, load_midi


def test_bach_chorale_is_f_sharp_minor(chorale_path):
    key = estimate_key(load_midi(chorale_path).notes)
    assert key.name == "F# minor"
    assert (key.tonic_pc, key.tonic, key.mode) == (6, "F#", "minor")
    assert 0.5 < key.confidence <= 1.0


def test_key_signature_in_the_file_is_ignored(chorale_path):
    piece = load_midi(chorale_path)
    lying = replace(piece, key_signatures=(KeySignature(0.0, -3, False),))  # says Eb major
    assert estimate_key(lying.notes).name == "F# minor"


@pytest.mark.parametrize("shift", range(12))
def test_transposition_moves_the_tonic(chorale_path, shift):
    notes = load_midi(chorale_path).notes
    moved = notes.with_(pitch=(notes.pitch + shift).astype(np.int16))
    key = estimate_key(moved)
    assert (key.tonic_pc, key.mode) == ((6 + shift) % 12, "minor")


@pytest.mark.parametrize(
    "relative,number,expected",
    [
        ("oneills1850/0001-0050.abc", 1, "G minor"),  # The Enchanted Valley, K:Gm
        ("oneills1850/0001-0050.abc", 2, "D major"),  # Fare You Well, K:D
        ("airdsAirs/book1.abc", 8, "D major"),  # Quick Step 21th Regt., K:D
        ("essenFolksong/altdeu10.abc", 1, "G minor"),  # Hildebrandslied: K: G with B-flats throughout
    ],
)
def test_folk_tunes_from_their_abc_header(relative, number, expected):
    piece = abc_tune(relative, number).without_key_signatures()
    assert estimate_key(piece.notes).name == expected


def test_a_minor_melody_with_leading_tone():
    tune = melody([69, 71, 72, 74, 76, 77, 80, 81, 76, 72, 71, 68, 69], step=1.0)
    assert estimate_key(make_piece(tune).notes).name == "A minor"


def test_drums_do_not_vote():
    tune = make_piece(melody([60, 62, 64, 65, 67, 65, 64, 62, 60])).notes
    drums = NoteList.from_tuples([(i * 0.5, 0.25, 42) for i in range(32)], is_drum=True)
    assert estimate_key(tune.concat(drums)).name == estimate_key(tune).name == "C major"


def test_no_pitched_notes_gives_zero_confidence():
    drums = NoteList.from_tuples([(0, 1, 36)], is_drum=True)
    assert estimate_key(drums).confidence == 0.0
