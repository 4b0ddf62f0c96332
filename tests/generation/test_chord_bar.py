"""One chord sampler for whole pieces and the live stream (`generate.chord_bar`): its rules on a stepper that
always prefers one chord, and the live generator's harmony state surviving snapshot and restore."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bridge.generation import vocab as V
from bridge.generation.encoding import BarEvents
from bridge.generation.generate import BarPlace, Biases, HarmonyState, chord_bar
from bridge.generation.prompt import Controls

C = Controls(tonic_pc=0, mode="major", meter="4/4", temperature=0.0)  # greedy: the rules decide
G_MAJOR = V.chord_token(7, 0, 0)
C_MAJOR = V.chord_token(0, 0, 0)


class FavouriteChord:
    """A backbone stepper whose logits always prefer one chord (and density 1, then a bar line)."""

    def __init__(self, favourite: int):
        self.favourite, self.fed = favourite, []

    def feed(self, tokens):
        self.fed += list(tokens)
        logits = np.zeros(V.VOCAB_SIZE)
        logits[self.favourite] = 3.0
        logits[V.DENS0 + 1] = 3.0
        logits[V.BAR] = 3.0
        return logits


def bar(place: BarPlace, state: HarmonyState, favourite: int = G_MAJOR, b: Biases | None = None) -> BarEvents:
    out, _logits = chord_bar(FavouriteChord(favourite), C, np.random.default_rng(0), b or Biases(), state, place)
    return out


def test_the_first_and_last_chords_are_the_tonic_whatever_the_model_prefers():
    first = bar(BarPlace(0, first=True), HarmonyState())
    assert first.chords[0] == C_MAJOR and first.chords[1] == G_MAJOR
    last = bar(BarPlace(7, last=True, ends_piece=True), HarmonyState())
    assert last.chords[-1] == C_MAJOR and last.cadence


def test_a_chord_held_for_a_bar_leans_to_move_on():
    held = HarmonyState(held_tok=G_MAJOR, held_beats=4)
    moved = bar(BarPlace(1), held, b=replace(Biases(), stasis=10.0))
    assert moved.chords[0] != G_MAJOR
    assert bar(BarPlace(1), HarmonyState(held_tok=G_MAJOR, held_beats=4), b=replace(Biases(), stasis=0.0)).chords[0] \
        == G_MAJOR


def test_harmony_state_counts_held_beats_and_bars_since_the_tonic():
    state = HarmonyState.holding([BarEvents((C_MAJOR,) * 4, 1, False), BarEvents((C_MAJOR, G_MAJOR, G_MAJOR,
                                                                                  G_MAJOR), 1, False)])
    assert (state.held_tok, state.held_beats) == (G_MAJOR, 3)
    state.observe(BarEvents((G_MAJOR,) * 4, 1, False), 0, "major")
    assert (state.held_beats, state.since_tonic) == (7, 1)
    state.observe(BarEvents((C_MAJOR,) * 4, 1, False), 0, "major")
    assert (state.held_tok, state.held_beats, state.since_tonic) == (C_MAJOR, 4, 0)


def test_the_live_generator_restores_its_harmony_with_its_caches():
    from bridge.generation.live import BarGenerator, LiveControls
    from bridge.generation.runtime import GenerationModels, ModelNotFound

    try:
        models = GenerationModels.load()
    except ModelNotFound:
        pytest.skip("no shipped generation models")
    gen = BarGenerator(models, LiveControls(base=Controls(bars=0, seed=3)))
    for _ in range(3):
        gen.next_bar()
    saved = gen.snapshot()
    ahead = [gen.next_bar() for _ in range(4)]
    harmony_after = (gen.harmony.since_tonic, gen.harmony.held_tok, gen.harmony.held_beats)
    gen.restore(saved)
    assert [gen.next_bar() for _ in range(4)] == ahead
    assert (gen.harmony.since_tonic, gen.harmony.held_tok, gen.harmony.held_beats) == harmony_after


def test_an_answering_bar_leans_to_its_question_s_chords():
    from bridge.generation.generate import chord_echo

    f_major = V.chord_token(5, 0, 0)
    echoed = bar(BarPlace(5, echo=(f_major,) * 4), HarmonyState(), b=replace(Biases(), chord_echo=10.0))
    assert set(echoed.chords) == {f_major}
    assert bar(BarPlace(5, echo=(f_major,) * 4), HarmonyState(), b=replace(Biases(), chord_echo=0.0)).chords[0] \
        == G_MAJOR
    bars = [BarEvents((V.chord_token(k, 0, 0),) * 4, 1, False) for k in range(8)]
    assert chord_echo(bars[:5], 5) == bars[1].chords  # bar 5 answers bar 1 (4-bar phrases)
    assert chord_echo(bars[:2], 2) == bars[0].chords  # the third bar of a first phrase echoes its first
    assert chord_echo(bars[:7], 7) == ()  # the answer's cadence bar is its own
