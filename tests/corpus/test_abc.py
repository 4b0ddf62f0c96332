from models.corpus.abc import parse_meter, pickup_quarters, render_tune, split_tunes, tune_key
from models.corpus.keys import Key, parse_abc_key
from models.corpus.sources import music21_corpus_root

TUNES = """X: 1
T: Downbeat Start
M: 4/4
L: 1/8
K:Ador
A2 B2 c2 d2 | e4 d4 | c2 B2 A4 |]

X: 2
T: With Pickup
M: 6/8
L: 1/8
R: jig
K:G
D | G2 B d2 B | c2 A F2 D | G3 G2 :|

X: 3
T: Signature Only
M: 3/4
L: 1/4
K:G
B c d | e2 d | B A G | E3 |]
"""


def test_split_tunes_reads_headers():
    tunes = split_tunes(TUNES)
    assert [t.title for t in tunes] == ["Downbeat Start", "With Pickup", "Signature Only"]
    assert tunes[1].header("R") == "jig" and tunes[1].header("M") == "6/8"
    assert parse_meter("C|") == (2, 2) and parse_meter("none") is None


def test_pickup_is_measured_and_aligned_to_the_bar_line():
    first, pickup, _ = split_tunes(TUNES)
    assert pickup_quarters(first, 4.0) == 0.0
    assert pickup_quarters(pickup, 3.0) == 0.5
    piece = render_tune(pickup)
    # the eighth-note pickup ends exactly where bar 2 (3 quarters) begins
    assert abs(float(piece.notes.start.min()) - 2.5) < 1e-6


def test_keys_from_header_and_final_note():
    assert parse_abc_key("Ador") == (Key(9, "dorian"), True)
    assert parse_abc_key("F#m") == (Key(6, "minor"), True)
    assert parse_abc_key("none")[0] is None
    *_, sig_only = split_tunes(TUNES)
    key = tune_key(sig_only, render_tune(sig_only))
    assert key.name == "E minor"  # G major signature, ends on E


def test_real_oneill_tune_renders_with_title_and_key():
    path = music21_corpus_root() / "oneills1850" / "0001-0050.abc"
    tunes = split_tunes(path.read_bytes().decode("latin-1"))
    assert len(tunes) == 50
    piece = render_tune(tunes[0])
    assert len(piece.notes) > 50 and str(piece.time_signatures[0]) == "2/4"
    assert tune_key(tunes[0], piece).name == "G minor"
