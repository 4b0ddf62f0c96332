"""Key sections and key changes on real music: the Maple Leaf Rag and its trio, a chorale, a folk tune."""

from pathlib import Path

import numpy as np
import pytest
from analysis_music import abc_tune

from bridge.analysis import analyze_piece, estimate_key
from bridge.analysis.key import KeyEstimate
from bridge.analysis.modulation import governing_key, key_at, key_changes, key_sections
from bridge.music import load_midi

DATA = Path(__file__).parent / "data"
# In the fixtures' bar grid (the pickup padded to a bar): A and B strains in Ab, the trio (C strain)
# from bar 67 in Db, the D strain from bar 99 back in Ab.
TRIO_BAR, D_STRAIN_BAR = 67, 99


@pytest.fixture(scope="module")
def rag():
    return load_midi(DATA / "maple_leaf_rag.mid")


@pytest.fixture(scope="module")
def rag_to_trio():
    return load_midi(DATA / "maple_leaf_rag_to_trio.mid")


def test_maple_leaf_rag_trio_is_a_key_change(rag):
    a = analyze_piece(rag, with_chords=False)
    assert a.key.name == "Ab major"
    changes = [(c.bar, c.before.name, c.after.name) for c in a.key_changes]
    assert [c[1:] for c in changes] == [("Ab major", "Db major"), ("Db major", "Ab major")]
    assert abs(changes[0][0] - TRIO_BAR) <= 2 and abs(changes[1][0] - D_STRAIN_BAR) <= 2
    # Sections tile the piece.
    s = a.key_sections
    assert s[0].start_q == 0.0 and all(x.stop_q == y.start_q for x, y in zip(s, s[1:]))
    assert s[-1].end_bar == len(rag.bar_starts())


def test_a_piece_that_ends_in_its_trio_keeps_its_tonic(rag_to_trio):
    a = analyze_piece(rag_to_trio, with_chords=False)
    assert a.key.name == "Ab major"
    assert [(c.before.name, c.after.name) for c in a.key_changes] == [("Ab major", "Db major")]
    assert a.key_sections[-1].key.name == "Db major"
    # Even when the whole-piece estimate is pulled to the trio's key by the final cadence, the key that
    # governs two-thirds of the piece wins.
    assert governing_key(a.key_sections, KeyEstimate.of(1, "major")).name == "Ab major"


@pytest.mark.parametrize("shift", [-5, 2])
def test_transposed_rag_moves_every_section(rag, shift):
    notes = rag.notes
    moved = rag.with_notes(notes.with_(pitch=(notes.pitch + shift).astype(np.int16)))
    a = analyze_piece(moved, with_chords=False)
    assert (a.key.tonic_pc, a.key.mode) == ((8 + shift) % 12, "major")
    assert [c.after.tonic_pc for c in a.key_changes] == [(1 + shift) % 12, (8 + shift) % 12]


def test_json_lists_key_changes(rag):
    d = analyze_piece(rag, with_chords=False).to_dict()
    assert [(c["from"], c["to"]) for c in d["key_changes"]] == [("Ab major", "Db major"), ("Db major", "Ab major")]
    assert set(d["key_changes"][0]) == {"bar", "beat", "from", "to"}
    assert d["key_sections"][1]["key"] == "Db major"


def test_chorale_has_no_key_change(chorale_path):
    a = analyze_piece(load_midi(chorale_path), with_chords=False)
    assert a.key_changes == () and len(a.key_sections) == 1
    assert a.key == estimate_key(load_midi(chorale_path).notes)


def test_folk_tune_in_one_key_is_one_section():
    piece = abc_tune("oneills1850/0001-0050.abc", 2).without_key_signatures()  # Fare You Well, D major
    sections = key_sections(piece)
    assert len(sections) == 1 and sections[0].key.name == "D major"
    assert key_changes(sections) == ()


def test_key_at_picks_the_section_covering_most(rag):
    sections = analyze_piece(rag, with_chords=False).key_sections
    trio = sections[1]
    assert key_at(sections, trio.start_q + 8, trio.start_q + 24).name == "Db major"
    assert key_at(sections, trio.start_q - 14, trio.start_q + 2).name == "Ab major"


def test_empty_piece_has_one_unknown_section():
    from bridge.music import NoteList, Piece

    (only,) = key_sections(Piece(notes=NoteList.empty()))
    assert only.key.confidence == 0.0


def test_chords_in_the_trio_are_numbered_and_spelled_in_its_key(rag):
    a = analyze_piece(rag)
    trio = next(s for s in a.key_sections if s.key.name == "Db major")
    inside = [c for c in a.chords if trio.start_q <= c.start < trio.stop_q]
    before = [c for c in a.chords if c.start < trio.start_q]
    assert inside and before
    # The trio's tonic chord (Db) is its I, not the IV it is in the piece's Ab major.
    db_major = [c for c in inside if c.root_pc == 1 and c.quality == "major"]
    assert db_major and all(c.roman.startswith("I") and not c.roman.startswith("IV") for c in db_major)
    assert any(c.roman.startswith("I") and c.root_pc == 8 for c in before)  # Ab is I before it
    # No chord straddles the key change: events split where the section starts.
    assert all(not (c.start < trio.start_q < c.start + c.duration - 1e-9) for c in a.chords)


def test_one_section_pieces_label_chords_as_before(chorale_path):
    from bridge.analysis.chords import label_chords
    from bridge.analysis.meter import subdivided_bar_grid

    piece = load_midi(chorale_path)
    a = analyze_piece(piece)
    assert len(a.key_sections) == 1
    grid = subdivided_bar_grid(piece, "beat")
    plain = label_chords(piece.notes.pitched(), grid, a.key)
    assert [(c.symbol, c.roman, c.start) for c in a.chords] == [(c.symbol, c.roman, c.start) for c in plain]
