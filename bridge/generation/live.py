"""Bar-by-bar generation for a live stream: chords for one bar (backbone), then its melody (melody model).

`BarGenerator` keeps both models' caches between bars, so each `next_bar()` costs only that bar's tokens.
It can snapshot its state before any bar and go back to it (bars past the commit horizon are regenerated
when controls change), take controls that apply from the next bar, prefill bars that were *played* (a call
to answer, a melody to harmonise, chords to play over), and keeps the backbone's context bounded: when the
KV cache passes `max_context` tokens it is rebuilt from the header and the last `window_bars` bars (RoPE
positions restart with it, which the model has seen at every training crop), so an endless stream runs in
constant memory. The melody model's memory is bounded by construction (Transformer-XL `mem_len`).

Pure generation: no I/O, no clock. The daemon's generation worker drives it.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field, replace

import numpy as np

from bridge.generation import vocab as V
from bridge.generation.encoding import (
    BarEvents,
    Song,
    backbone_bar_tokens,
    beats_per_bar,
    header_tokens,
    melody_bar_notes,
    melody_bar_prefix,
    positions_per_bar,
    transpose_song,
)
from bridge.generation.generate import BarPlace, Biases, HarmonyState, chord_bar, chord_echo
from bridge.generation.prompt import Controls

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class LiveControls:
    """What a musician steers while a stream plays. `base` carries key, mode, meter, tempo, bars (0 = endless),
    temperature, top_p and seed, parsed from a prompt and options exactly as `midibridge generate` does."""

    base: Controls = field(default_factory=lambda: Controls(bars=0))
    density: int | None = None  # melody onsets per beat bucket 0..3; None: the model chooses per bar
    phrase_bars: int = 8  # an endless stream cadences (V-I) at the end of every phrase of this many bars

    @property
    def harmonic_key(self) -> tuple[int, str, str]:
        return self.base.tonic_pc, self.base.mode, self.base.meter


@dataclass
class _Models:
    """Anything with `.backbone` and `.melody` steppers (ONNX in the daemon, torch in evaluation)."""

    backbone: object
    melody: object


@dataclass
class GeneratorState:
    """Everything `next_bar` changes; copied whole for a snapshot (the caches are small numpy arrays)."""

    backbone: dict
    melody: dict
    backbone_logits: np.ndarray | None
    rng: np.random.Generator
    history: list[BarEvents]
    harmony: HarmonyState
    bar_index: int
    controls: LiveControls


def _stepper_state(stepper) -> dict:
    return {k: copy.copy(v) for k, v in vars(stepper).items() if k not in ("sess", "cfg", "model")}


def _restore_stepper(stepper, state: dict) -> None:
    for k, v in state.items():
        setattr(stepper, k, copy.copy(v))


class BarGenerator:
    def __init__(self, models, controls: LiveControls, biases: Biases | None = None, window_bars: int = 16,
                 max_context: int = 480) -> None:
        self.models = models
        self.biases = biases or Biases()
        self.window_bars = window_bars
        self.max_context = max_context
        self.controls = controls
        self.rng = np.random.default_rng(controls.base.seed)
        self.history: list[BarEvents] = []  # every bar so far (generated or played), in the current key
        self.bar_index = 0
        self.harmony = HarmonyState()
        self.prefills = 0  # context rebuilds (key/meter change, window)
        self._backbone_logits: np.ndarray | None = None
        self._rebuild()

    # ------------------------------------------------------------------ state

    def snapshot(self) -> GeneratorState:
        return GeneratorState(_stepper_state(self.models.backbone), _stepper_state(self.models.melody),
                              None if self._backbone_logits is None else self._backbone_logits.copy(),
                              copy.deepcopy(self.rng), list(self.history), copy.copy(self.harmony), self.bar_index,
                              self.controls)

    def restore(self, state: GeneratorState) -> None:
        _restore_stepper(self.models.backbone, state.backbone)
        _restore_stepper(self.models.melody, state.melody)
        self._backbone_logits = None if state.backbone_logits is None else state.backbone_logits.copy()
        self.rng = copy.deepcopy(state.rng)
        self.history = list(state.history)
        self.harmony = copy.copy(state.harmony)
        self.bar_index = state.bar_index
        self.controls = state.controls

    @property
    def song(self) -> Song:
        b = self.controls.base
        return Song(b.tonic_pc, b.mode, b.meter, b.tempo_bpm)

    def set_controls(self, controls: LiveControls) -> None:
        """New controls from the next bar on. A new key keeps the context, moved into that key (the model reads
        its past as if it had been in the new key: a modulation at the bar line); a new meter starts a fresh
        context (the old bars have another number of chord slots)."""
        old = self.controls.base
        new = controls.base
        self.controls = controls
        if new.meter != old.meter:
            self.history = []
            self.harmony = HarmonyState()
            self._rebuild()
        elif (new.tonic_pc, new.mode) != (old.tonic_pc, old.mode) or V.tempo_bucket(new.tempo_bpm) != V.tempo_bucket(
                old.tempo_bpm):
            shift = (new.tonic_pc - old.tonic_pc) % 12
            if shift:
                moved = transpose_song(replace(self.song, tonic_pc=old.tonic_pc, bars=tuple(self.history)), shift)
                self.history = list(moved.bars)
                # The held chord in the new key's terms (the history moved with it); the tonic distance stays.
                self.harmony = replace(HarmonyState.holding(self.history), since_tonic=self.harmony.since_tonic)
            self._rebuild()
        if new.seed is not None and new.seed != old.seed:
            self.rng = np.random.default_rng(new.seed)

    def _rebuild(self) -> None:
        """Reset both caches and feed the header and the last `window_bars` bars of history (one batched call
        per model and bar)."""
        bb, mel = self.models.backbone, self.models.melody
        song = self.song
        keep = self.history[-self.window_bars:]
        bb.reset()
        mel.reset()
        logits = bb.feed(header_tokens(song))
        mel.feed(header_tokens(song))
        for bar in keep:
            logits = bb.feed(backbone_bar_tokens(bar))
            mel.feed(melody_bar_prefix(bar) + melody_bar_notes(bar))
        self._backbone_logits = logits
        self.prefills += 1

    def _bound_context(self) -> None:
        if self.models.backbone.length > self.max_context:
            self._rebuild()

    # ------------------------------------------------------------------ one bar

    def next_bar(self, melody_heard: tuple[tuple[int, int, int], ...] | None = None,
                 chords_given: tuple[int, ...] | None = None, final: bool = False,
                 with_melody: bool = True) -> BarEvents:
        """Generate the next bar. `melody_heard` (notes of the player's last bar) makes the chords fit it
        (harmonise); `chords_given` plays over the player's chords instead of sampling them; `final` ends on
        the tonic (the last bar of a finite stream or of an answer)."""
        c = self.controls.base
        position = self.bar_index
        phrase = self.controls.phrase_bars if not c.bars else max(1, c.bars)
        in_phrase = position % phrase if not c.bars else position
        end_of_phrase = final or (not c.bars and in_phrase == phrase - 1)
        before_end = (not c.bars and in_phrase == phrase - 2) or (c.bars and position == c.bars - 2)
        if chords_given is not None:
            bar = self._feed_given_chords(chords_given, melody_heard)
        else:
            bar = self._sample_chords(melody_heard, first=position == 0 and not self.history,
                                      end_of_phrase=end_of_phrase, before_end=before_end)
        if with_melody:
            bar = self._sample_melody(bar, final=end_of_phrase)
        elif melody_heard is not None:
            bar = replace(bar, notes=tuple(melody_heard))
            self.models.melody.feed(melody_bar_prefix(bar) + melody_bar_notes(bar))
        else:
            self.models.melody.feed(melody_bar_prefix(bar) + [V.EOB])
        self.history.append(bar)
        if len(self.history) > 4 * self.window_bars:
            del self.history[: len(self.history) - self.window_bars]
        self.bar_index += 1
        self._bound_context()
        return bar

    def prefill_bar(self, bar: BarEvents) -> None:
        """A bar the player played (chords derived from it, its notes as melody) enters both contexts."""
        self._backbone_logits = self.models.backbone.feed(backbone_bar_tokens(bar))
        self.models.melody.feed(melody_bar_prefix(bar) + melody_bar_notes(bar))
        self.history.append(bar)
        self.bar_index += 1
        self.harmony.observe(bar, self.controls.base.tonic_pc, self.controls.base.mode)
        self._bound_context()

    def _sample_chords(self, melody_heard, first: bool, end_of_phrase: bool, before_end: bool) -> BarEvents:
        """The bar's chords through the one sampler whole pieces use (`generate.chord_bar`): harmonic rhythm
        and phrase cadences as in `generate`; a phrase of the stream ends on its tonic chord."""
        c = self.controls.base
        if melody_heard is not None:
            density = V.density_bucket(len(melody_heard) / beats_per_bar(c.meter))
        else:
            density = None if self.controls.density is None else int(self.controls.density)
        echo = chord_echo(self.history, self.bar_index, self.biases.phrase_len) if melody_heard is None else ()
        place = BarPlace(self.bar_index, first=first, last=end_of_phrase, before_last=before_end, echo=echo)
        bar, self._backbone_logits = chord_bar(self.models.backbone, c, self.rng, self.biases, self.harmony, place,
                                               None if melody_heard is None else tuple(melody_heard), density)
        return bar

    def _feed_given_chords(self, chords: tuple[int, ...], melody_heard) -> BarEvents:
        nb = beats_per_bar(self.controls.base.meter)
        chords = tuple((list(chords) + [chords[-1]] * nb)[:nb]) if chords else tuple([V.chord_token(
            self.controls.base.tonic_pc, 0 if self.controls.base.mode == "major" else 1)] * nb)
        dens = self.controls.density if self.controls.density is not None else 1
        bar = BarEvents(chords, int(dens), False)
        self._backbone_logits = self.models.backbone.feed(backbone_bar_tokens(bar))
        return bar

    def _sample_melody(self, bar: BarEvents, final: bool) -> BarEvents:
        """The bar's melody through the one sampler whole pieces use (`generate.melody_bar`): phrase echoes
        and restatements, the repetition guard, never two empty bars in a row."""
        from bridge.generation.generate import melody_bar

        c = self.controls.base
        ppb = positions_per_bar(c.meter)
        start = self.bar_index - 2
        recent = [((start + k) * ppb + pos, pitch) for k, prev in enumerate(self.history[-2:])
                  for pos, pitch, _ in prev.notes]
        must_play = not self.history or not self.history[-1].notes or final
        return melody_bar(self.models.melody, c, self.rng, bar, self.history, self.bar_index, self.biases, final,
                          must_play, recent)


def song_of(generator: BarGenerator, bars: list[BarEvents]) -> Song:
    return replace(generator.song, bars=tuple(bars))
