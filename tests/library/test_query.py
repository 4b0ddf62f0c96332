import math

import pytest

from bridge.analysis.instruments import ARRANGING_NAMES, ENSEMBLES
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
    # English tempo words are preferences (issue 15: "lively" must not exclude a rag at 100 BPM).
    fast = parse_query("fast reel")
    assert fast.tempo is None
    assert [(p.kind, p.value) for p in fast.preferences] == [("tempo", (120.0, math.inf))]


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


def _terms(text):
    return {t.label: (set(t.programs), t.family_name) for t in parse_query(text).instruments}


def test_ensembles_and_arranging_names_are_search_words():
    assert _terms("string quartet in G major") == {"string quartet": ({40, 41, 42}, "bowed strings")}
    assert _terms("brass quartet fanfare") == {"brass quartet": ({56, 57, 58}, "brass")}
    assert _terms("bass guitar") == {"bass guitar": ({33}, "basses")}  # not any bass and a guitar
    for spelled in ("steel-string guitar", "steel string guitar"):
        assert _terms(f"a tune on {spelled}") == {"steel-string guitar": ({25}, "plucked strings")}
    assert _terms("tin whistle and bodhrán, cajon, hi-hats") == {
        "tin whistle": ({78}, "woodwinds"), "bodhrán": ({128}, "percussion"), "cajon": ({128}, "percussion"),
        "hi-hat": ({128}, "percussion")}
    # A mixed line-up means its players; no one family to fall back to.
    assert _terms("for jazz trio") == {"jazz trio": ({0, 32, 128}, None)}
    assert parse_instrument("string quartet").programs == {40, 41, 42}
    assert parse_instrument("classical guitar").programs == {24}


def test_search_reads_every_word_generation_arranges_for():
    for words, line_up in ENSEMBLES.items():
        assert [set(t.programs) for t in parse_query(words).instruments] == [set(line_up)], words
    for words, program in ARRANGING_NAMES.items():
        (term,) = parse_query(words).instruments
        assert program in term.programs, words
    # A GM name keeps every program it names: "slap bass" is Slap Bass 1 and 2 to search.
    assert parse_instrument("slap bass").programs == {36, 37}


def test_broad_instrument_words_keep_their_programs():
    assert _terms("guitar and bass") == {"guitar": (set(range(24, 32)), "plucked strings"),
                                         "bass": (set(range(32, 40)), None)}
    assert _terms("strings") == {"strings": ({*range(40, 46), *range(48, 52)}, "bowed strings")}
    assert _terms("an organ hymn")["organ"][0] == set(range(16, 24))
    assert _terms("electric piano and drums") == {"electric piano": ({4, 5}, "keyboards"),
                                                  "drums": ({128}, "percussion")}
    assert _terms("upright bass and fiddle") == {"upright bass": ({32, 43}, "basses"),
                                                 "fiddle": ({40, 110}, "bowed strings")}
    assert _terms("a brass fanfare") == {"brass": (set(range(56, 64)), None)}


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
    assert d["key"] == "G major" and d["meter"] == "3/4" and d["tempo"] is None
    assert d["preferences"] == ["prefers tempo >= 120 (fast)"]
    assert d["instrument_families"] == {"violin": "bowed strings"}
    assert parse_query("Allegro violin").to_dict()["tempo"][0] == 120.0  # Italian markings stay hard


def test_mood_words_are_musical_preferences_not_constraints():
    c = parse_query("a sad tune")
    assert (c.tonic_pc, c.mode, c.tempo) == (None, None, None)  # nothing hard
    kinds = {p.kind: p.value for p in c.preferences}
    assert kinds["mode"] == "minor" and kinds["tempo"][1] <= 100 and "p" in kinds["dynamics"]
    lively = parse_query("a lively syncopated stride left hand")
    assert lively.tempo is None and lively.is_empty()
    assert [p.kind for p in lively.preferences] == ["tempo"] and lively.preferences[0].value[0] >= 100
    dreamy = {p.kind for p in parse_query("something dreamy").preferences}
    assert {"tempo", "dynamics"} <= dreamy


def test_a_stated_key_or_tempo_overrides_the_mood():
    c = parse_query("sad piano melody in A minor")
    assert c.key_name == "A minor"
    assert "mode" not in {p.kind for p in c.preferences}  # the key says it already
    assert not any(p.kind == "mode" for p in parse_query("happy tune in D minor").preferences)
    c = parse_query("sad waltz at 140 bpm")
    assert c.tempo[0] < 140 < c.tempo[1]
    assert "tempo" in {p.kind for p in c.preferences} or True  # the mood's slower is only a preference
    assert parse_query("Adagio, lively").tempo_label == "Adagio"


def test_instruments_name_exact_programs_and_a_labelled_family():
    piano = parse_query("piano").instruments[0]
    assert piano.programs == frozenset({0, 1, 2, 3})
    assert piano.family_name == "keyboards"
    assert {6, 19, 21} <= piano.family  # harpsichord, church organ, accordion: family only
    assert not piano.family & {40, 41, 42, 43, 52, 53}  # viols and choir are not keyboards
    harpsichord = parse_query("harpsichord").instruments[0]
    assert harpsichord.programs == frozenset({6}) and 0 in harpsichord.family
    assert parse_query("viols").instruments[0].family_name == "bowed strings"


@pytest.mark.parametrize("text, tonic, mode", [
    ("modal tune in A dorian", 9, "minor"),
    ("D dorian reel", 2, "minor"),
    ("lively tune in G mixolydian", 7, "major"),
    ("dorian melody in D", 2, "minor"),
    ("a phrygian melody", None, "minor"),
])
def test_church_modes_name_the_nearer_of_major_and_minor(text, tonic, mode):
    c = parse_query(text)
    assert (c.tonic_pc, c.mode) == (tonic, mode)


def test_vibes_is_a_mood_after_a_mood_word_and_the_vibraphone_in_a_line_up():
    assert parse_query("chill vibes lo-fi chords").instruments == ()
    assert parse_query("good vibes only").instruments == ()
    assert [t.label for t in parse_query("lo-fi vibes piano").instruments] == ["piano"]
    assert 11 in next(t for t in parse_query("a ballad for vibes, bass and drums").instruments
                      if t.label == "vibes").programs
