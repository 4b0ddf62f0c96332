"""What runs in the generation worker: the ONNX models and the live `BarGenerator`, one bar per call.

A process of its own (spawned like the search worker), so a bar being generated never waits behind a search
and never holds the GIL the JACK callback needs. Its state is one `GenerationHost`; `serve` builds its
function table from the host's methods.

A generated bar leaves as a `LiveBar`: chord symbols and notes per role in quarter notes from the bar start,
plain tuples that pickle fast. Texture (voicing, bass line, patterns, dynamics) is realised here too.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, replace

from bridge.analysis.chords import chord_symbol as analysis_symbol
from bridge.analysis.key import KeyEstimate
from bridge.generation import vocab as V
from bridge.generation.encoding import BarEvents, Song, beats_per_bar, positions_per_bar
from bridge.generation.live import BarGenerator, GeneratorState, LiveControls

log = logging.getLogger(__name__)

ROLES = ("chords", "bass", "melody", "drums")
MAX_SNAPSHOTS = 64  # bars kept revisitable; the session trims to the commit point as it goes
# Fault injection: a slow machine on demand (ms of extra time per generated bar), for the tests and benches
# of the degrade-never-drift path. Never set in normal use.
ENV_SLOW = "MIDIBRIDGE_GENERATION_DELAY_MS"


@dataclass(frozen=True)
class LiveBar:
    index: int  # 0-based bar of the stream
    chords: tuple[str, ...]  # one symbol per beat
    notes: tuple[tuple[str, float, float, int, int], ...]  # (role, start_q, dur_q, pitch, velocity)
    beats: float  # bar length in quarter notes
    generate_ms: float
    key: str = ""
    tokens: BarEvents | None = None  # the bar as the models see it (for call and response, tests)


def chord_symbol(token: int, tonic_pc: int, mode: str) -> str:
    """A chord token as the analysis names chords ('Am7/G'), spelled in the stream's key."""
    root, q, inv = V.chord_of_token(token)
    pcs = V.chord_pcs(root, q)
    return analysis_symbol(root, V.QUALITIES[q], pcs[min(inv, len(pcs) - 1)], KeyEstimate.of(tonic_pc, mode))


def realize(song: Song, bar: BarEvents, index: int, state: dict) -> tuple[list[tuple], dict]:
    """Role notes for one bar: through `bridge.generation.texture` when it is there, else a plain realisation
    (held chords in close voicing, the bass on each chord's root, the melody as generated)."""
    try:
        from bridge.generation import texture
    except ImportError:
        texture = None
    if texture is not None and hasattr(texture, "realize_bar"):
        style = state.get("style")
        if style is None:
            style = texture.style_for(song.meter, state.get("prompt_words", ()))
            state["style"] = style
        tstate = state.get("texture") or texture.TextureState()
        notes, tstate = texture.realize_bar(song, bar, index, tstate, style)
        state["texture"] = tstate
        return [tuple(n) for n in notes if n[0] in ROLES], state
    return _plain_realization(song, bar), state


def _plain_realization(song: Song, bar: BarEvents) -> list[tuple]:
    from bridge.generation.encoding import chord_voicing

    nb = beats_per_bar(song.meter)
    beat_q = song.bar_quarters / nb
    out: list[tuple] = []
    i = 0
    while i < len(bar.chords):
        j = i
        while j + 1 < len(bar.chords) and bar.chords[j + 1] == bar.chords[i]:
            j += 1
        r, q, inv = V.chord_of_token(bar.chords[i])
        voicing = chord_voicing(r, q, inv)
        start, dur = i * beat_q, (j - i + 1) * beat_q
        accent = 8 if i == 0 else 0
        for p in voicing[1:]:
            out.append(("chords", start, dur, p, 60 + accent))
        out.append(("bass", start, dur, 36 + (r - 36) % 12, 72 + accent))
        i = j + 1
    for pos, pitch, dur in bar.notes:
        s = pos / V.POSITIONS_PER_QUARTER
        d = min(dur / V.POSITIONS_PER_QUARTER, song.bar_quarters - s)
        out.append(("melody", s, max(d, 0.125), int(pitch), 88 if pos % (positions_per_bar(song.meter) // nb) == 0
                    else 78))
    return out


class GenerationHost:
    """The worker's state: models, the running generator and its per-bar snapshots."""

    def __init__(self) -> None:
        self.models = None
        self.generator: BarGenerator | None = None
        # bar index -> (generator state, texture state) just before that bar was generated
        self.snapshots: dict[int, tuple[GeneratorState, dict]] = {}
        self.texture_state: dict = {}
        self.epoch = 0
        self.delay_s = float(os.environ.get(ENV_SLOW, "0") or 0) / 1000.0

    def open_models(self, model_dir: str | None = None) -> dict:
        from bridge.generation.runtime import GenerationModels

        t0 = time.perf_counter()
        self.models = GenerationModels.load(model_dir)
        # onnxruntime allocates on its first runs: pay that now, not in the first bar of a jam.
        gen = BarGenerator(self.models, LiveControls())
        for _ in range(2):
            gen.next_bar()
        return {"model_dir": str(self.models.model_dir), "ms": (time.perf_counter() - t0) * 1000.0}

    def _require(self) -> BarGenerator:
        if self.generator is None:
            raise RuntimeError("no stream: start one first")
        return self.generator

    def start(self, controls: LiveControls, prompt_words: tuple[str, ...] = ()) -> dict:
        if self.models is None:
            self.open_models()
        self.generator = BarGenerator(self.models, controls)
        self.snapshots = {}
        self.texture_state = {"prompt_words": prompt_words}
        self.epoch += 1
        programs: dict[str, int] = {}
        try:
            from bridge.generation import texture

            style = texture.style_for(controls.base.meter, " ".join(prompt_words), seed=controls.base.seed or 0)
            self.texture_state["style"] = style
            programs = {r: style.program(r) for r in ROLES if style.on(r)}
        except ImportError:
            pass
        return {"epoch": self.epoch, "programs": programs}

    def bars(self, n: int, melody_heard: tuple | None = None, chords_given: tuple | None = None,
             final_at: int = -1, with_melody: bool = True) -> list[LiveBar]:
        """The next `n` bars (snapshot taken before each, so any of them can be regenerated)."""
        gen = self._require()
        out = []
        for _ in range(n):
            index = gen.bar_index
            self.snapshots[index] = (gen.snapshot(), dict(self.texture_state))
            while len(self.snapshots) > MAX_SNAPSHOTS:
                del self.snapshots[min(self.snapshots)]
            t0 = time.perf_counter()
            if self.delay_s:
                time.sleep(self.delay_s)
            bar = gen.next_bar(melody_heard=melody_heard, chords_given=chords_given, final=index == final_at,
                               with_melody=with_melody)
            notes, self.texture_state = realize(gen.song, bar, index, self.texture_state)
            c = gen.controls.base
            out.append(LiveBar(index, tuple(chord_symbol(t, c.tonic_pc, c.mode) for t in bar.chords),
                               tuple(notes), gen.song.bar_quarters, (time.perf_counter() - t0) * 1000.0,
                               KeyEstimate.of(c.tonic_pc, c.mode).name, bar))
        return out

    def rewind(self, bar_index: int, controls: LiveControls | None = None) -> int:
        """Go back to just before `bar_index` (dropping what was generated from there), then apply `controls`."""
        gen = self._require()
        saved = self.snapshots.get(bar_index)
        if saved is None and bar_index != gen.bar_index:
            raise RuntimeError(f"bar {bar_index} can no longer be regenerated")
        if saved is not None:
            gen.restore(saved[0])
            self.texture_state = dict(saved[1])
        for k in [k for k in self.snapshots if k >= bar_index]:
            del self.snapshots[k]
        if controls is not None:
            gen.set_controls(controls)
        return gen.bar_index

    def commit(self, bar_index: int) -> None:
        """Bars before `bar_index` are fixed: their snapshots are no longer needed."""
        for k in [k for k in self.snapshots if k < bar_index]:
            del self.snapshots[k]

    def prefill(self, bars: list[BarEvents], controls: LiveControls) -> dict:
        """A fresh generator in the key heard, with the played bars in its context (call and response)."""
        if self.models is None:
            self.open_models()
        gen = BarGenerator(self.models, controls)
        for bar in bars:
            gen.prefill_bar(bar)
        self.generator = gen
        self.snapshots = {}
        self.texture_state = {"prompt_words": ()}
        self.epoch += 1
        return {"bars": len(bars), "index": gen.bar_index}

    def status(self) -> dict:
        gen = self.generator
        if gen is None:
            return {"loaded": self.models is not None}
        return {"loaded": True, "bar": gen.bar_index, "context": gen.models.backbone.length,
                "melody_memory": int(gen.models.melody.memory_tokens),
                "prefills": gen.prefills, "snapshots": len(self.snapshots)}

    def stop(self) -> None:
        self.generator = None
        self.snapshots = {}


def controls_with(controls: LiveControls, **base) -> LiveControls:
    return replace(controls, base=replace(controls.base, **base))


def serve(conn, log_level: str = "INFO", json_log: bool = False) -> None:
    """The generation worker process's main loop."""
    from bridge.daemon.worker import init_worker, serve_functions

    init_worker(log_level, json_log, process=True)
    host = GenerationHost()
    table = {name: getattr(host, name) for name in
             ("open_models", "start", "bars", "rewind", "commit", "prefill", "status", "stop")}
    serve_functions(conn, table)
