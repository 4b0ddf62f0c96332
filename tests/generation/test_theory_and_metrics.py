"""One theory table for analysis and generation, and the variation/repetition metrics."""

import numpy as np
import pytest
from gen_toys import toy_song

from bridge.analysis import chords as analysis_chords
from bridge.analysis import qualities as T
from bridge.generation import harmony
from bridge.generation import metrics as M
from bridge.generation import vocab as V
from bridge.generation.encoding import BarEvents, Song


def test_generation_qualities_are_rows_of_the_one_quality_table():
    # The vocabulary keeps its ids (models are trained on them) but every quality it names is the shared one.
    assert len(V.QUALITIES) == 5 and V.N_CHORDS == 180
    for name, intervals in zip(V.QUALITIES, V.QUALITY_INTERVALS):
        assert T.QUALITY_BY_NAME[name].intervals == intervals
        assert T.QUALITY_BY_NAME[name].suffix == V.QUALITY_SUFFIX[V.QUALITIES.index(name)]
    for r in range(12):
        for q, name in enumerate(V.QUALITIES):
            assert V.chord_pcs(r, q) == T.chord_tones(r, name)
            assert set(np.nonzero(harmony.TEMPLATES[r * harmony.N_Q + q])[0]) == set(T.chord_tones(r, name))


@pytest.mark.parametrize("mode", ["major", "minor"])
def test_scales_and_key_chords_come_from_one_place(mode):
    for tonic in range(12):
        assert harmony.scale_pcs(tonic, mode) == T.scale_pcs(tonic, mode)
        # Generation labels melody-only tunes with exactly the chords analysis says a melody implies.
        implied = {(r, V.QUALITIES.index(q)) for r, q in T.diatonic_chords(tonic, mode, implied_only=True)}
        assert set(harmony.diatonic_chords(tonic, mode)) == implied
    assert {(i, q) for i, q in analysis_chords._DIATONIC[mode]} == {(c.interval, c.quality) for c in T.KEY_CHORDS[mode]}
    assert {(i, q) for i, q, _ in analysis_chords._IMPLIED[mode]} == \
        {(c.interval, c.quality) for c in T.KEY_CHORDS[mode] if c.implied is not None}
    # Every chord native to the key lies in the key's scale.
    for r, q in T.diatonic_chords(0, mode):
        assert set(T.chord_tones(r, q)) <= T.scale_pcs(0, mode)


def test_realisation_helpers_of_the_table():
    assert T.seventh_of(7, "major", 0, "major") == "dominant7"  # V -> V7
    assert T.seventh_of(2, "minor", 0, "major") == "minor7"  # ii -> ii7
    assert T.seventh_of(5, "major", 0, "major") == "major7"  # IV -> IVmaj7
    assert T.seventh_of(7, "major", 9, "minor") == "major"  # bVII in A minor has no diatonic seventh here
    assert T.secondary_dominant(7) == (2, "dominant7")  # V7/V in C = D7


def _bars(notes_per_bar, chords=None):
    c = chords or (V.chord_token(0, 0),) * 4
    return tuple(BarEvents(c, 1, i % 4 == 3, tuple(n)) for i, n in enumerate(notes_per_bar))


def test_self_similarity_and_motif_reuse_separate_loops_from_tunes():
    loop = Song(0, "major", "4/4", 100.0, _bars([[(0, 64, 4), (4, 64, 4), (8, 64, 4), (12, 64, 4)]] * 8))
    assert M.bar_self_similarity(loop) == 1.0 and M.repeated_bar_share(loop) == 7 / 8
    assert M.pitch_repeat_run(loop) == 32 and M.motif_reuse(loop) == 1.0
    rng = np.random.default_rng(0)
    wander = Song(0, "major", "4/4", 100.0, _bars([[(p, int(rng.integers(55, 80)), 4) for p in (0, 4, 8, 12)]
                                                   for _ in range(8)]))
    assert M.bar_self_similarity(wander) < 0.2 and M.motif_reuse(wander) < 0.3
    # A sequence (the same motif a step higher) is reuse, not similarity of the same notes.
    motif = [(0, 60, 4), (4, 62, 4), (8, 64, 4), (12, 60, 4)]
    seq = Song(0, "major", "4/4", 100.0, _bars([[(p, n + 2 * k, d) for p, n, d in motif] for k in range(4)]))
    assert M.motif_reuse(seq) > 0.5 and M.bar_self_similarity(seq) < 0.5


def test_harmony_metrics_on_a_cadential_song():
    I, IV, V7 = V.chord_token(0, 0), V.chord_token(5, 0), V.chord_token(7, 4)
    prog = [(I,) * 4, (IV,) * 4, (I, I, V7, V7), (I,) * 4] * 2
    song = Song(0, "major", "4/4", 100.0, tuple(BarEvents(c, 1, i % 4 == 3) for i, c in enumerate(prog)))
    assert M.distinct_chords_per_16_bars(song) == 3
    assert M.tonic_bar_share(song) == 6 / 8
    assert M.cadence_rate(song) == 1.0  # V7 -> I across each phrase's last bar line


def test_summary_carries_the_new_figures():
    s = M.summarize([toy_song(), toy_song(seed=1)])
    for k in ("distinct_chords_per_16_bars", "tonic_bar_share", "cadence_rate", "bar_self_similarity",
              "repeated_bar_share", "motif_reuse", "longest_pitch_run"):
        assert s[k] is not None
    from bridge.generation.encoding import song_to_piece

    v = M.velocity_spread(song_to_piece(toy_song()))
    assert v["std"] > 5 and set(v["tracks"]) == {"chords", "bass", "melody"}


def test_every_instrument_a_prompt_names_holds():
    report = M.instrument_adherence(toy_song(meter="3/4"))
    assert report["instruments"] >= 25 and report["adherence"] == 1.0, report["misses"]


def test_motif_source_is_the_same_bar_of_the_phrase_before():
    from bridge.generation.generate import motif_bias, motif_source

    hist = [BarEvents((V.chord_token(0, 0),) * 4, notes=((0, 60 + i, 4), (8, 64, 4))) for i in range(8)]
    # Bar 3 echoes bar 1 (a a' of a sentence); the answering phrase's bars 5-7 echo bars 1-3; cadences are free.
    # `history` ends with the bar before (bar n - 1), as the sampler keeps it.
    assert [motif_source(hist[:n], n) is not None for n in range(8)] == [False, False, True, False, True, True,
                                                                         True, False]
    assert motif_source(hist[:5], 5) is hist[1] and motif_source(hist[:2], 2) is hist[0]
    # A live stream keeps a window of recent bars: the echo is found from the end of it.
    window = (hist * 2)[6:13]  # bars 6..12 of a longer stream
    assert motif_source(window, 13) is window[-4]  # bar 13 (the answer's 2nd bar) echoes bar 9
    up = BarEvents((V.chord_token(7, 0),) * 4)
    b = motif_bias(hist[1], up, -1, None, 2.0)
    assert b[V.POS0] == 2.0  # the echoed rhythm's first onset
    b = motif_bias(hist[1], up, 0, 0, 2.0)
    assert b[V.pitch_token(61 - 5)] == 2.0  # the pitch, moved with the harmony (C -> G: down a fourth)


def test_restatement_keeps_rhythm_and_contour_and_fits_the_new_chord():
    from bridge.generation.generate import restatement

    src = BarEvents((V.chord_token(0, 0),) * 4, notes=((0, 60, 4), (4, 64, 2), (6, 65, 2), (8, 67, 8)))
    same = restatement(src, BarEvents((V.chord_token(0, 0),) * 4), 0, "major", 16)
    assert same == src.notes  # same harmony: a literal repeat
    up = restatement(src, BarEvents((V.chord_token(7, 0),) * 4), 0, "major", 16)
    assert [n[0] for n in up] == [0, 4, 6, 8] and [n[2] for n in up] == [4, 2, 2, 8]  # the rhythm
    assert [b[1] - a[1] for a, b in zip(up, up[1:])] == [4, 1, 2]  # the contour, a fourth lower (in the scale)
    ii = restatement(src, BarEvents((V.chord_token(2, 1),) * 4), 0, "major", 16)
    assert all(p % 12 in {0, 2, 4, 5, 7, 9, 11} for _, p, _ in ii)  # a diatonic sequence: no F#
    assert all(p % 12 in V.chord_pcs(2, 1) for pos, p, _ in ii if pos % 4 == 0 and pos != 6)  # chord tones stay
