"""Data extraction from ABC folk tunes and chorale-like records (no music21 parse: fast)."""

from bridge.generation import vocab as V
from models.generation.data import record_to_song, split_of
from models.generation.sources import _folk_record, parse_abc_key, split_abc_tunes

TUNES = """X: 1
T:Test Reel
M:4/4
L:1/8
R:reel
K:G
D2|GABc dBGB|cBAG FGAF|GABc dBGB|cAFA G2:|

X: 2
T:Modal
M:6/8
K:Ador
ABA GED|
"""


def test_abc_keys_and_modes():
    assert parse_abc_key("G") == (7, "major")
    assert parse_abc_key("Gm") == (7, "minor")
    assert parse_abc_key("F#min") == (6, "minor")
    assert parse_abc_key("Bb") == (10, "major")
    assert parse_abc_key("Dmix") is None  # modal tunes are left out: the model speaks major/minor


def test_folk_tune_becomes_an_aligned_song_with_pickup_shifted():
    tunes = split_abc_tunes(TUNES)
    assert len(tunes) == 2
    rec = _folk_record(tunes[0], "test/1", "test")
    assert rec["key"] == [7, "major"] and rec["meter"] == [4, 4] and rec["rhythm"] == "reel"
    # The pickup (D2 = a quarter) ends up at the end of a bar: first onset at 3.0 quarters.
    assert abs(rec["lead"][0][0] - 3.0) < 1e-6
    assert _folk_record(tunes[1], "test/2", "test") is None
    song = record_to_song(rec)
    assert song.meter == "4/4" and song.tonic_pc == 7 and song.tempo_bpm == 112
    assert all(len(b.chords) == 4 for b in song.bars)
    # Derived chords are diatonic to G major (G C D Em Am Bm + D7)
    roots = {V.chord_of_token(t)[0] for b in song.bars for t in b.chords}
    assert roots <= {7, 0, 2, 4, 9, 11}
    assert song.bars[-1].cadence


def test_chorale_record_uses_fermatas_as_phrase_ends():
    lead = [[i, 1, 72 if i % 4 else 67] for i in range(16)]
    lower = [[i, 1, p] for i in range(0, 16) for p in (48, 55, 64)]
    rec = {"id": "chorales/999", "collection": "chorales", "meter": [4, 4], "key": [0, "major"], "lead": lead,
           "lower": lower, "phrase_ends": [8.0], "licence": "public domain"}
    song = record_to_song(rec)
    assert [b.cadence for b in song.bars] == [False, True, False, False]
    assert V.chord_of_token(song.bars[0].chords[0])[:2] == (0, 0)


def test_split_is_by_piece_and_stable():
    assert split_of("essen/x1") == split_of("essen/x1")
    splits = {split_of(f"p/{i}") for i in range(400)}
    assert splits == {"train", "valid", "test"}
