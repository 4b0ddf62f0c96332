from bridge.music import NoteList, Piece, save_midi
from models.corpus.dedupe import find_duplicates, melody_fingerprint
from models.corpus.ingest import SourcePiece

TUNE = [(i * 0.5, 0.5, p) for i, p in enumerate([62, 66, 69, 66, 62, 64, 66, 67, 69, 71, 69, 67, 66, 64, 62, 62])]


def _piece(tmp_path, name, notes, title, key="D major"):
    path = tmp_path / f"{name}.mid"
    save_midi(Piece(NoteList.from_tuples(notes)), path)
    sp = SourcePiece(piece_id=f"oneill/{name}", collection="oneill", category="folk", source_file=name,
                     title=title, source="s", licence="public domain", genre="g", midi=str(path), key=key)
    return sp, melody_fingerprint(str(path))


def test_same_tune_in_another_key_or_file_is_a_duplicate(tmp_path):
    a = _piece(tmp_path, "a_1", TUNE, "The Kesh")
    b = _piece(tmp_path, "b_7", [(s, d, p + 5) for s, d, p in TUNE], "Kesh Jig, The", key="G major")
    other = [(s, d, 74 - (p - 62)) for s, d, p in TUNE]  # the tune upside down
    c = _piece(tmp_path, "c_2", other, "Other Tune")
    d = _piece(tmp_path, "d_9", [(s, d, p) for s, d, p in other[:8]] + TUNE[8:], "Other tune")  # second setting
    pieces, fps = zip(a, b, c, d)
    assert find_duplicates(list(pieces), list(fps)) == {"oneill/b_7": "oneill/a_1"} | {"oneill/d_9": "oneill/c_2"}
