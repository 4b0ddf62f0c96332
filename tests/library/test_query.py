import math

import pytest

from bridge.query import parse_bpm_range, parse_instrument, parse_key, parse_meter, parse_query


def test_key_mode_and_instrument_from_a_sentence():
    c = parse_query("sad piano melody in A minor")
    assert (c.tonic_pc, c.mode, c.key_name) == (9, "minor", "A minor")
    assert [t.label for t in c.instruments] == ["piano"]
    assert 0 in c.instruments[0].programs
    assert c.mood_mode == "minor" and c.texture == "monophonic"


@pytest.mark.parametrize(
    "text, tonic, mode",
    [
        ("F# major chorale", 6, "major"),
        ("happy tune in e flat major", 3, "major"),
        ("something in B-flat minor", 10, "minor"),
        ("a theme in D", 2, None),
        ("in a minor key, slowly", None, "minor"),  # "a" is the article here
        ("a minor melody", None, "minor"),
        ("sad tune in a minor", 9, "minor"),
        ("A major chord progression", 9, "major"),
        ("nothing tonal", None, None),
    ],
)
def test_keys(text, tonic, mode):
    c = parse_query(text)
    assert (c.tonic_pc, c.mode) == (tonic, mode)


def test_meter_and_tempo_words():
    c = parse_query("a waltz for strings, Andante")
    assert c.meter == "3/4"
    assert c.tempo_label == "Andante" and c.tempo[0] == 76.0 and c.tempo[1] < 108
    assert parse_query("jig in 6/8").meter == "6/8"
    assert parse_query("fast reel").tempo == (120.0, math.inf)


def test_bpm_numbers():
    assert parse_query("groove at 90-110 bpm").tempo == (90.0, 110.0)
    lo, hi = parse_query("120 BPM").tempo
    assert lo < 120 < hi


def test_longest_instrument_phrase_wins():
    c = parse_query("electric piano and violin with drums")
    labels = {t.label for t in c.instruments}
    assert labels == {"electric piano", "violin", "drums"}
    assert 128 in next(t for t in c.instruments if t.label == "drums").programs


def test_words_that_only_look_like_instruments_are_ignored():
    assert parse_query("lead melody over a pad").instruments == ()


def test_option_parsers():
    assert parse_key("c# min") == (1, "minor")
    assert parse_key("Bb") == (10, None)
    assert parse_bpm_range("90-110") == (90.0, 110.0)
    assert parse_bpm_range("slow") == (0.0, 80.0)
    assert parse_meter("3/4") == "3/4"
    assert 40 in parse_instrument("strings").programs
    for bad, fn in (("H# major x", parse_key), ("quickish", parse_bpm_range), ("3/5", parse_meter)):
        with pytest.raises(ValueError):
            fn(bad)
    with pytest.raises(ValueError, match="unknown instrument"):
        parse_instrument("kazoo")


def test_to_dict_is_json_ready():
    d = parse_query("fast violin in G major 3/4").to_dict()
    assert d["key"] == "G major" and d["meter"] == "3/4" and d["tempo"] == [120.0, None]
