from models.corpus.captions import (
    FAMILIES,
    HELD_OUT_FAMILY,
    CaptionFacts,
    contains_word,
    families_for,
    held_out_synonyms,
    make_captions,
    moods_of,
)

JIG = CaptionFacts(
    key="D major", meter="6/8", bpm=174, tempo_word="Presto", instruments=("fiddle", "acoustic bass", "drums"),
    lead="fiddle", genre="Irish folk tune", category="folk", moods=("happy", "energetic"), texture="monophonic",
    register="high", dynamics="f", bars=8, seconds=10.2, dance="jig", groove="bossa nova", chords=("D", "G", "A"),
)
LAMENT = CaptionFacts(
    key="E minor", meter="3/4", bpm=60, tempo_word="Largo", instruments=("choir",), lead="choir",
    genre="Baroque chorale", category="chorale", moods=("solemn", "sad"), texture="homophonic", register="mid",
    dynamics="p", bars=6, seconds=18.0, chords=("Em", "B7", "Am"),
)


def test_held_out_family_and_synonyms_never_reach_train_or_valid():
    synonyms = held_out_synonyms()
    assert "sorrowful" in synonyms and "squeezebox" in synonyms
    for split in ("train", "valid"):
        for i in range(300):
            for facts in (JIG, LAMENT):
                for family, text in make_captions(facts, split, f"seed{i}"):
                    assert family != HELD_OUT_FAMILY
                    assert not [s for s in synonyms if contains_word(text, s)], text


def test_test_split_uses_held_out_family_and_synonyms():
    families, words = set(), set()
    for i in range(200):
        for family, text in make_captions(LAMENT, "test", f"seed{i}"):
            families.add(family)
            words.update(s for s in held_out_synonyms() if contains_word(text, s))
    assert families == set(FAMILIES)
    assert {"sorrowful", "melancholy"} & words and "chorus" in words


def test_captions_state_the_facts_and_vary():
    captions = [text for i in range(50) for _f, text in make_captions(JIG, "train", f"s{i}")]
    assert all("D major" in c for c in captions)
    assert any("jig" in c for c in captions) and any("bossa nova" in c for c in captions)
    assert any("174" in c for c in captions)
    assert len(set(captions)) > 100  # synonyms and word order really vary
    assert len({c.split()[0] for c in captions}) >= 5  # not one template start


def test_captions_are_deterministic_and_from_distinct_families():
    a = make_captions(JIG, "train", "clip-1", count=3)
    assert a == make_captions(JIG, "train", "clip-1", count=3)
    assert len({f for f, _ in a}) == 3
    assert HELD_OUT_FAMILY not in families_for("valid") and HELD_OUT_FAMILY in families_for("test")


def test_moods_follow_mode_tempo_and_dynamics():
    assert moods_of("minor", 60, "mid", "p", "folk")[0] == "sad"
    assert moods_of("major", 180, "high", "f", "folk")[:2] == ["happy", "energetic"]
    assert "solemn" in moods_of("major", 80, "mid", "mf", "chorale")
    assert "dark" in moods_of("minor", 160, "low", "f", "folk")
