"""The texture layer: voice leading, patterns per meter, bass on roots, drums, dynamics, humanising, streaming."""

import pickle

import numpy as np
import pytest
from gen_toys import toy_song

from bridge.generation import vocab as V
from bridge.generation.encoding import BarEvents, Song, song_to_piece
from bridge.generation.texture import (
    DRUM_KIT,
    TextureState,
    TextureStyle,
    assign_instruments,
    movement,
    realize_bar,
    realize_song,
    realized_chords,
    style_for,
    voice_lead,
)


def _song(prog, meter="4/4", mode="major", tonic=0, bars_per_chord=1) -> Song:
    """A song whose bar i holds chord prog[i] (root offset, vocab quality) on every beat."""
    nb = {"4/4": 4, "3/4": 3, "6/8": 2, "2/4": 2}[meter]
    bars = []
    for i, (r, q) in enumerate(prog):
        tok = V.chord_token((tonic + r) % 12, q, 0)
        bars.append(BarEvents((tok,) * nb, 1, i % 4 == 3, ((0, 72, 4),)))
    return Song(tonic, mode, meter, 100.0, tuple(bars))


CYCLE = [(0, 0), (9, 1), (5, 0), (7, 0), (0, 0), (2, 1), (7, 0), (0, 0)]  # I vi IV V I ii V I


def test_voice_leading_moves_little_and_keeps_every_chord_tone():
    song = _song(CYCLE)
    style = TextureStyle(pattern="block", roles=("chords",), colour=False)
    prev, moves = None, []
    for _, notes in realize_song(song, style):
        v = tuple(sorted(n.pitch for n in notes))
        if prev is not None:
            moves.append(movement(prev, v))
        prev = v
    # Common tones held, the rest by step: far below re-voicing every chord in root position.
    naive = [movement(tuple(sorted(60 + (r + i) % 12 for i in V.QUALITY_INTERVALS[q])),
                      tuple(sorted(60 + (r2 + i) % 12 for i in V.QUALITY_INTERVALS[q2])))
             for (r, q), (r2, q2) in zip(CYCLE, CYCLE[1:])]
    assert max(moves) <= 6 and sum(moves) < sum(naive)  # at most two semitones per voice on average
    for (_, notes), (r, q) in zip(realize_song(song, style), CYCLE):
        assert {n.pitch % 12 for n in notes} == set(V.chord_pcs(r, q))


def test_voice_lead_is_minimal_against_brute_force():
    prev = (55, 60, 64)
    best = voice_lead((5, 9, 0), prev)  # F major after C major: C stays, E->F, G->A
    assert movement(prev, best) == 3 and 60 in best


def test_waltz_is_oom_pah_pah_in_three_four():
    song = _song([(0, 0), (7, 0), (7, 0), (0, 0)], meter="3/4")
    style = style_for("3/4", "a waltz")
    assert style.pattern == "waltz"
    notes, _ = realize_bar(song, song.bars[0], 0, TextureState(), style)
    bass = [n for n in notes if n.role == "bass"]
    chords = [n for n in notes if n.role == "chords"]
    assert [n.start_q for n in bass] == [0.0]  # oom on the downbeat
    assert sorted({n.start_q for n in chords}) == [1.0, 2.0]  # pah-pah on beats 2 and 3
    assert all(n.dur_q < 1.0 for n in chords)  # detached
    # Without a bass track the chord part plays its own oom.
    notes, _ = realize_bar(song, song.bars[0], 0, TextureState(), style_for("3/4", "waltz", tracks="chords,melody"))
    assert 0.0 in {n.start_q for n in notes if n.role == "chords"}


@pytest.mark.parametrize("meter,words,pattern", [("6/8", "a jig", "compound"), ("2/4", "a march", "oompah"),
                                                 ("4/4", "a hymn", "block"), ("4/4", "a ballad", "arpeggio"),
                                                 ("4/4", "swing", "comping"), ("4/4", "", "broken"),
                                                 ("6/8", "a waltz", "compound")])
def test_pattern_follows_style_and_meter(meter, words, pattern):
    assert style_for(meter, words).pattern == pattern


def test_bass_is_on_the_roots_with_passing_tones_between():
    song = _song(CYCLE)
    style = TextureStyle(pattern="broken", roles=("bass",), colour=False)
    state = TextureState()
    for i, bar in enumerate(song.bars):
        notes, state = realize_bar(song, bar, i, state, style)
        r, q = CYCLE[i]
        down = [n for n in notes if n.start_q == 0.0]
        assert len(down) == 1 and down[0].pitch % 12 == (r % 12)  # the root on the downbeat
        assert 28 <= min(n.pitch for n in notes) and max(n.pitch for n in notes) <= 55
        others = {n.pitch % 12 for n in notes} - set(V.chord_pcs(r, q))
        assert len(others) <= 1  # at most one passing/approach tone per bar
    # Half a bar of C then half a bar of Am (a third down): the step between, B, on beat 2.
    c, am = V.chord_token(0, 0), V.chord_token(9, 1)
    two = Song(0, "major", "4/4", 100.0, (BarEvents((c, c, am, am)),))
    notes, _ = realize_bar(two, two.bars[0], 0, TextureState(), style)
    assert [(n.start_q, n.pitch % 12) for n in notes] == [(0.0, 0), (1.0, 11), (2.0, 9)]


def test_realisation_adds_sevenths_secondary_dominants_and_suspensions_not_tokens():
    # ii (2 beats) then V (2 beats) in a cadence bar, then I: V7/V on the ii's last beat, V as Vsus4 -> V7.
    ii, v, i = V.chord_token(2, 1), V.chord_token(7, 0), V.chord_token(0, 0)
    bars = (BarEvents((i,) * 4), BarEvents((i,) * 4), BarEvents((ii, ii, v, v), cadence=True), BarEvents((i,) * 4))
    song = Song(0, "major", "4/4", 100.0, bars)
    style = style_for("4/4", "")
    heard = realized_chords(song, bars[2], 2, style)
    assert (heard[1].root, heard[1].quality) == (2, "dominant7")  # V7/V = D7
    assert (heard[2].root, heard[2].quality) == (7, "sus4") and (heard[3].root, heard[3].quality) == (7, "dominant7")
    assert song.bars[2].chords == (ii, ii, v, v)  # the backbone (vocabulary) is untouched
    plain = realized_chords(song, bars[2], 2, TextureStyle(colour=False))
    assert [(c.root, c.quality) for c in plain] == [(2, "minor")] * 2 + [(7, "major")] * 2


def test_drums_on_channel_ten_from_the_style():
    song = _song(CYCLE)
    style = style_for("4/4", "a rock song with drums")
    assert style.on("drums") and style.channel("drums") == 9
    notes, _ = realize_bar(song, song.bars[1], 1, TextureState(), style)
    drums = [n for n in notes if n.role == "drums"]
    assert {DRUM_KIT["kick"], DRUM_KIT["snare"]} <= {n.pitch for n in drums}
    piece = song_to_piece(song, style)
    assert piece.notes.is_drum[piece.notes.track == piece.track_names.index("drums")].all()
    assert not style_for("4/4", "a hymn").on("drums")


def test_velocities_shape_phrases_and_accent_strong_beats():
    song = toy_song(n_bars=8)
    piece = song_to_piece(song)
    vel = piece.notes.velocity.astype(float)
    assert vel.std() > 5 and vel.max() - vel.min() >= 20
    mel = piece.notes.take(piece.notes.track == piece.track_names.index("melody"))
    bar = np.floor(mel.start / 4).astype(int)
    mid = mel.velocity[(bar % 4 == 2) & (mel.start % 4 == 0)].mean()
    edge = mel.velocity[(bar % 4 == 0) & (mel.start % 4 == 0)].mean()
    assert mid > edge  # louder two thirds into the phrase
    down = mel.velocity[(mel.start % 4 == 0) & (bar == 1)].mean()
    off = mel.velocity[(mel.start % 4 == 1) & (bar == 1)].mean()
    assert down > off


def test_humanise_is_seeded_small_and_off_by_default():
    song = toy_song(n_bars=4)
    grid = song_to_piece(song, style_for("4/4", ""))
    loose = song_to_piece(song, style_for("4/4", "", humanize=1.0, seed=7))
    again = song_to_piece(song, style_for("4/4", "", humanize=1.0, seed=7))
    assert np.array_equal(loose.notes.start, again.notes.start)
    assert not np.array_equal(loose.notes.start, grid.notes.start)
    assert np.abs(np.sort(loose.notes.start) - np.sort(grid.notes.start)).max() <= 0.031
    assert np.allclose(grid.notes.start * 4, np.round(grid.notes.start * 4))  # on the sixteenth grid


def test_streaming_bar_by_bar_equals_the_whole_song_and_state_pickles():
    song = toy_song(n_bars=6, meter="3/4")
    style = style_for("3/4", "waltz", humanize=0.5, seed=3)
    whole = realize_song(song, style)
    state = TextureState()
    for i, bar in enumerate(song.bars):
        notes, state = realize_bar(song, bar, i, state, style)
        state = pickle.loads(pickle.dumps(state))
        assert notes == whole[i][1]
        assert all(0 <= n.start_q < song.bar_quarters and n.role in ("chords", "bass", "melody") for n in notes)
    pickle.dumps(style)


@pytest.mark.parametrize("prompt,expect", [
    ("a waltz for strings and harp", {"melody": 48, "chords": 46}),
    ("a jig on the fiddle with guitar", {"melody": 110, "chords": 24}),
    ("a piano ballad", {"melody": 0, "chords": 0, "bass": 0}),
    ("a reel for flute, guitar and double bass", {"melody": 73, "chords": 24, "bass": 32}),
])
def test_instruments_from_the_prompt(prompt, expect):
    style = style_for("4/4", prompt)
    assert {role: style.program(role) for role in expect} == expect


def test_instruments_from_options_and_every_one_holds():
    style = style_for("3/4", "a waltz for strings", instruments={"melody": 71, "bass": 42})
    assert (style.program("melody"), style.program("bass")) == (71, 42)
    a = assign_instruments([40, 46, 73, 128])
    placed = set(a["programs"].values()) | {p for _, p in a["doubles"]}
    assert {40, 46, 73} <= placed and "drums" in a["roles"]
    style = style_for("4/4", "", instruments=[40, 46, 73])
    piece = song_to_piece(toy_song(n_bars=2), style)
    assert {40, 46, 73} <= set(piece.notes.program.tolist())
    with pytest.raises(ValueError, match="unknown track"):
        style_for("4/4", "", tracks="chords,kazoo")
