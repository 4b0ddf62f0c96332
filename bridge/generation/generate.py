"""Generation loops: backbone (chords, bar by bar) then melody (notes under those chords), with key/meter
kept right by construction and by soft biases:

- meter: the grammar is enforced by masks (BAR, one DENS, exactly `beats` chords per bar; notes at increasing
  onsets inside the bar), so every bar has the asked length;
- key: the key token conditions both models; out-of-key chords and out-of-scale pitches get a soft penalty
  (`Biases`), and the first and last chords lean to the tonic (a cadence), which is what listeners (and
  `estimate_key`) hear as the key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from bridge.analysis.qualities import scale_pcs
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
)
from bridge.generation.key_check import key_matches
from bridge.generation.prompt import Controls
from bridge.generation.sampler import sample

log = logging.getLogger(__name__)
MAX_NOTES_PER_BAR = 24


@dataclass(frozen=True)
class Biases:
    out_of_key_chord: float = 2.5  # logit penalty for a chord with a tone outside the key's scale
    out_of_scale_pitch: float = 3.0  # logit penalty for a melody pitch outside the scale
    tonic_chord: float = 3.0  # bonus for the tonic chord on the first beat and the final bar
    return_home: float = 1.0  # per bar away from the tonic chord beyond the first, on the next downbeat
    dominant_chord: float = 2.0  # bonus for V / V7 on the last beat before the final bar (authentic cadence)
    final_tonic_pitch: float = 1.5  # bonus for tonic-triad pitches in the final bar (melodies end at home)
    pitch_low: int = 55
    pitch_high: int = 88
    melody_fit: float = 4.0  # --harmonize: weight of the given melody's chord tones
    repetition: float = 1.0  # scale of `repetition_bias` on melody pitches (0: off)
    stasis: float = 1.2  # per bar a chord has already been held, against holding it again (harmonic rhythm)
    phrase_cadence: float = 2.0  # V before each 4-bar phrase end, and I after it every second phrase
    phrase_len: int = 4
    chord_echo: float = 1.0  # an echoing bar leans to its source bar's chord on each beat (period structure):
    # 0 / 0.75 / 1.0 / 1.5 / 3 measured in docs/generation.md; 1.0 puts bar self-similarity at the human mean
    motif: float = 3.0  # answering phrases echo the rhythm and (transposed) pitches of the phrase before
    restate: float = 0.8  # chance that an echoing bar restates its source outright (rhythm, contour), 0..1


def _mask(lo: int, hi: int) -> np.ndarray:
    m = np.zeros(V.VOCAB_SIZE, bool)
    m[lo:hi] = True
    return m


DENS_MASK = _mask(V.DENS0, V.DENS0 + V.N_DENSITY)
CHORD_MASK = _mask(V.CHORD0, V.CHORD0 + V.N_CHORDS)
DUR_MASK = _mask(V.DUR0, V.VOCAB_SIZE)
CAD_OR_BAR = _mask(V.CAD, V.CAD + 1) | _mask(V.BAR, V.BAR + 1)


def chord_key_bias(tonic_pc: int, mode: str, b: Biases) -> np.ndarray:
    scale = scale_pcs(tonic_pc, mode)
    bias = np.zeros(V.VOCAB_SIZE)
    for t in range(V.CHORD0, V.CHORD0 + V.N_CHORDS):
        r, q, _ = V.chord_of_token(t)
        if not set(V.chord_pcs(r, q)) <= scale:
            bias[t] -= b.out_of_key_chord
    return bias


def tonic_bias(tonic_pc: int, mode: str, b: Biases) -> np.ndarray:
    bias = np.zeros(V.VOCAB_SIZE)
    bias[V.chord_token(tonic_pc, 0 if mode == "major" else 1, 0)] += b.tonic_chord
    return bias


def dominant_bias(tonic_pc: int, b: Biases) -> np.ndarray:
    bias = np.zeros(V.VOCAB_SIZE)
    for q in (0, 4):  # V and V7: in minor too, the raised leading tone is what makes the key audible
        for inv in range(V.N_INVERSIONS):
            bias[V.chord_token(tonic_pc + 7, q, inv)] += b.dominant_chord
    return bias


def pitch_bias(tonic_pc: int, mode: str, b: Biases) -> tuple[np.ndarray, np.ndarray]:
    scale = scale_pcs(tonic_pc, mode)
    allowed = np.zeros(V.VOCAB_SIZE, bool)
    bias = np.zeros(V.VOCAB_SIZE)
    for p in range(max(b.pitch_low, V.PITCH_LOW), min(b.pitch_high, V.PITCH_HIGH) + 1):
        allowed[V.pitch_token(p)] = True
        if p % 12 not in scale:
            bias[V.pitch_token(p)] -= b.out_of_scale_pitch
    return allowed, bias


def melody_fit_bias(notes: tuple[tuple[int, int, int], ...], beat: int, beat_len16: float, weight: float) -> np.ndarray:
    """--harmonize: reward chords whose tones carry the given melody's sounding time within this beat."""
    hist = np.zeros(12)
    a, z = beat * beat_len16, (beat + 1) * beat_len16
    for pos, pitch, dur in notes:
        ov = min(pos + dur, z) - max(pos, a)
        if ov > 0:
            hist[pitch % 12] += ov * (1.5 if pos >= a else 1.0)
    bias = np.zeros(V.VOCAB_SIZE)
    if hist.sum() == 0:
        return bias
    hist /= hist.sum()
    for t in range(V.CHORD0, V.CHORD0 + V.N_CHORDS):
        r, q, _ = V.chord_of_token(t)
        tones = list(V.chord_pcs(r, q))
        inside = hist[tones].sum()
        bias[t] = weight * (inside - (1 - inside))
    return bias


def repetition_bias(recent: list[tuple[int, int]], run_penalty: float = 1.6, reuse_penalty: float = 0.3,
                    window: int = 8, decay: float = 0.7) -> np.ndarray:
    """Logit penalty over pitch tokens from the latest melody notes `recent` [(pos, pitch)], oldest first.

    Against degenerate loops, not against motifs: a pitch struck again and again (the trailing run of one
    pitch) costs `run_penalty` for its third strike, 3x for a fourth, 7x for a fifth (human tunes' longest
    run is about 3 notes); a two-pitch trill (a b a b) costs `run_penalty` (2x from a b a b a) for its next
    note; and every recent pitch costs a little (`reuse_penalty`, decaying with age). Only pitch tokens move,
    so the grammar (POS, DUR, EOB) is untouched; at temperature 0 the greedy melody then moves on
    instead of writing one pitch for ever."""
    bias = np.zeros(V.VOCAB_SIZE)
    last = [int(p) for _, p in list(recent)[-window:]]
    if not last:
        return bias
    for age, p in enumerate(reversed(last)):
        bias[V.pitch_token(p)] -= reuse_penalty * decay**age
    run = 1
    for p in reversed(last[:-1]):
        if p != last[-1]:
            break
        run += 1
    if run >= 2:
        bias[V.pitch_token(last[-1])] -= run_penalty * (2.0 ** (run - 1) - 1)  # 1.6, 4.8, 11.2...
    if len(last) >= 4 and last[-1] != last[-2] and last[-1] == last[-3] and last[-2] == last[-4]:
        bias[V.pitch_token(last[-2])] -= run_penalty * (1 + (len(last) >= 5 and last[-5] == last[-1]))
    return bias


def motif_source(history: list[BarEvents], bar_no: int, phrase_len: int = 4) -> BarEvents | None:
    """The bar that bar `bar_no` echoes: the same bar of the phrase before, in the answering (second) phrase
    of each pair, except its last bar (the cadence is the answer's own); and in the first phrase of a pair of
    four bars or more, its third bar echoes its first (the a-a' of a sentence). None when there is nothing.
    `history` ends with bar `bar_no - 1` and may have lost its oldest bars (a live stream keeps a window)."""
    back = echo_distance(bar_no, phrase_len)
    if back is None or back > len(history):
        return None
    src = history[-back]
    return src if src.notes else None


def echo_distance(bar_no: int, phrase_len: int = 4) -> int | None:
    """How many bars back bar `bar_no` echoes (`motif_source`'s rule), or None."""
    pl = max(1, phrase_len)
    k = bar_no % (2 * pl)
    if pl >= 4 and k == 2:
        return 2
    if k < pl or k == 2 * pl - 1 or bar_no - pl < 0:
        return None
    return pl


def chord_echo(history, bar_no: int, phrase_len: int = 4) -> tuple[int, ...]:
    """The chords of the bar that bar `bar_no` echoes (empty when none): an answering phrase leans to its
    question's harmony, so a restated motif sounds over the chords it was first heard with."""
    back = echo_distance(bar_no, phrase_len)
    return tuple(history[-back].chords) if back is not None and back <= len(history) else ()


def restatement(src: BarEvents, bar: BarEvents, tonic_pc: int, mode: str, ppb: int,
                low: int = 55, high: int = 88) -> tuple[tuple[int, int, int], ...]:
    """`src`'s notes restated under `bar`'s harmony: the same rhythm, the contour moved by the interval between
    the two bars' first chord roots (a sequence; none when the harmony is the same), exactly when every moved
    pitch stays in the scale, else step by step along the scale (a diatonic sequence). Onsets past the bar and
    pitches outside [low, high] (the melody's range) fold back."""
    from bridge.analysis.qualities import scale_pcs

    shift = 0
    if src.chords and bar.chords:
        shift = (V.chord_of_token(bar.chords[0])[0] - V.chord_of_token(src.chords[0])[0]) % 12
        shift = shift - 12 if shift > 6 else shift
    scale = sorted(scale_pcs(tonic_pc, mode))
    notes = [(p, pitch, d) for p, pitch, d in src.notes if p < ppb]
    moved = [pitch + shift for _, pitch, _ in notes]
    if any(m % 12 not in scale for m in moved):
        # Diatonic: every scale tone moves by the scale steps the first note moves (12 * octave + scale[i]).
        to_step = lambda p: 7 * (p // 12) + scale.index(p % 12)  # noqa: E731
        first = notes[0][1]
        target = min((t for t in range(first + shift - 2, first + shift + 3) if t % 12 in scale),
                     key=lambda t: (abs(t - first - shift), t))
        n_steps = to_step(target) - to_step(first) if first % 12 in scale else 0
        moved = [12 * ((to_step(p) + n_steps) // 7) + scale[(to_step(p) + n_steps) % 7] if p % 12 in scale
                 else p + (target - first) for _, p, _ in notes]
    # A note on a beat that was a tone of its chord in the source stays a tone of the new beat's chord (the
    # nearest one: a tonal answer, as a player adapts a sequence to the harmony); the others keep the contour.
    nb = max(1, len(bar.chords))
    beat16 = ppb / nb

    def beat_tones(b: BarEvents, pos: int) -> tuple[int, ...] | None:
        if not b.chords or abs(pos / beat16 - round(pos / beat16)) > 1e-6:
            return None
        r, q, _ = V.chord_of_token(b.chords[min(int(round(pos / beat16)), len(b.chords) - 1)])
        return V.chord_pcs(r, q)

    out = []
    for (pos, pitch, dur), m in zip(notes, moved):
        was, now = beat_tones(src, pos), beat_tones(bar, pos)
        if was is not None and now is not None and pitch % 12 in was and m % 12 not in now:
            m = min((m + d for d in (-1, 1, -2, 2, -3, 3) if (m + d) % 12 in now), key=lambda x: abs(x - m))
        while m < low:
            m += 12
        while m > high:
            m -= 12
        out.append((pos, m, dur))
    return tuple(out)


def motif_bias(src: BarEvents, bar: BarEvents, last_pos: int, pos: int | None, weight: float) -> np.ndarray:
    """Logit bonus toward echoing `src` in `bar`: with `pos` None, the next onset of `src` after `last_pos`
    (or EOB when it has no more); with `pos`, the pitch `src` has at that onset, moved by the interval between
    the two bars' first chord roots (a sequence when the harmony moved). Soft: the model may answer otherwise."""
    bias = np.zeros(V.VOCAB_SIZE)
    if pos is None:
        nxt = [p for p, _, _ in src.notes if p > last_pos]
        bias[V.POS0 + nxt[0] if nxt else V.EOB] += weight
        return bias
    at = [p for q, p, _ in src.notes if q == pos]
    if at:
        shift = 0
        if src.chords and bar.chords:
            shift = (V.chord_of_token(bar.chords[0])[0] - V.chord_of_token(src.chords[0])[0]) % 12
            shift = shift - 12 if shift > 6 else shift
        bias[V.pitch_token(at[0] + shift)] += weight
    return bias


def _same_chord_tokens(tok: int) -> list[int]:
    r, q, _ = V.chord_of_token(tok)
    return [V.chord_token(r, q, inv) for inv in range(V.N_INVERSIONS)]


@dataclass
class HarmonyState:
    """What a bar's chords depend on beyond the model's context: bars since the last tonic chord, and the chord
    sounding at the end of the last bar with how many beats it has been held (the harmonic-rhythm rule)."""

    since_tonic: int = 0
    held_tok: int | None = None
    held_beats: int = 0

    @staticmethod
    def holding(bars: tuple[BarEvents, ...] | list[BarEvents]) -> HarmonyState:
        """The chord held at the end of `bars` and for how many beats (bars since the tonic start at 0)."""
        state = HarmonyState()
        if bars and bars[-1].chords:
            state.held_tok = bars[-1].chords[-1]
            for bar in reversed(bars):
                same = [t for t in reversed(bar.chords) if V.harm_of_token(t) == V.harm_of_token(state.held_tok)]
                state.held_beats += len(same)
                if len(same) < len(bar.chords):
                    break
        return state

    def hear(self, chord: int) -> None:
        if self.held_tok is not None and V.harm_of_token(chord) == V.harm_of_token(self.held_tok):
            self.held_beats += 1
        else:
            self.held_tok, self.held_beats = chord, 1

    def end_bar(self, chords, tonic_tokens) -> None:
        self.since_tonic = 0 if any(t in tonic_tokens for t in chords) else self.since_tonic + 1

    def observe(self, bar: BarEvents, tonic_pc: int, mode: str) -> None:
        """A bar that was played, not sampled: it counts for the tonic distance and the held chord."""
        for t in bar.chords:
            self.hear(t)
        self.end_bar(bar.chords, _tonic_tokens(tonic_pc, mode))


@dataclass(frozen=True)
class BarPlace:
    """Where a bar stands, for the cadence rules: `bar_no` counts every bar before it (given ones too) for the
    phrase position; the first bar starts on the tonic chord, the last ends on it (and leans to it from mid-bar),
    the one before the last leans to the dominant on its last beat; `ends_piece`: nothing follows (no cadence
    mark is sampled after it)."""

    bar_no: int
    first: bool = False
    last: bool = False
    before_last: bool = False
    ends_piece: bool = False
    echo: tuple[int, ...] = ()  # chords of the bar this one echoes (`chord_echo`)


def _tonic_tokens(tonic_pc: int, mode: str) -> list[int]:
    return [V.chord_token(tonic_pc, 0 if mode == "major" else 1, inv) for inv in range(V.N_INVERSIONS)]


def chord_bar(stepper, c: Controls, rng: np.random.Generator, b: Biases, state: HarmonyState, place: BarPlace,
              melody: tuple[tuple[int, int, int], ...] | None = None,
              density: int | None = None) -> tuple[BarEvents, np.ndarray]:
    """One bar of chords, the backbone stepper fed up to the bar before; returns it and the stepper's last
    logits. Shared by whole pieces (`generate_backbone`) and the live stream (`BarGenerator`): the key leaning,
    the tonic at the ends, the return home, the dominant before the end, harmonic rhythm (a chord held a bar
    or more leans to move on), phrase cadences (each first phrase of a pair ends on V, each second on V-I) and,
    with `melody` (notes (pos, pitch, dur) of this bar), chords that fit it. `density`: the bar's density
    bucket (else sampled)."""
    nb = beats_per_bar(c.meter)
    beat16 = positions_per_bar(c.meter) / nb
    key_bias = chord_key_bias(c.tonic_pc, c.mode, b)
    tonic = tonic_bias(c.tonic_pc, c.mode, b)
    tonic_tokens = _tonic_tokens(c.tonic_pc, c.mode)
    dominant_root = [V.chord_token(c.tonic_pc + 7, q, inv) for q in (0, 4) for inv in range(V.N_INVERSIONS)]
    pl = max(1, b.phrase_len)
    logits = stepper.feed([V.BAR])
    dens = V.DENS0 + density if density is not None else sample(logits, rng, c.temperature, c.top_p,
                                                                 allowed=DENS_MASK)
    logits = stepper.feed([dens])
    chords: list[int] = []
    for beat in range(nb):
        bias = key_bias.copy()
        allowed = CHORD_MASK
        if (place.first and beat == 0) or (place.last and beat == nb - 1):
            # A tonal piece starts and ends on its tonic chord: a hard constraint, the one place we impose.
            allowed = np.zeros(V.VOCAB_SIZE, bool)
            allowed[tonic_tokens] = True
        elif place.last and beat >= nb - max(1, nb // 2) - 1:
            bias += tonic
        if beat == 0 and state.since_tonic > 1:
            bias += tonic * (b.return_home * (state.since_tonic - 1) / b.tonic_chord)
        if place.before_last and beat == nb - 1:
            bias += dominant_bias(c.tonic_pc, b)
        # Harmonic rhythm: a chord held for a bar or more leans to move on.
        if state.held_tok is not None and state.held_beats >= nb and b.stasis:
            bias[_same_chord_tokens(state.held_tok)] -= b.stasis * state.held_beats / nb
        # Phrase cadences inside the piece (the last two bars have their own): the first phrase of each pair
        # ends on V (half cadence), the second on I after V (authentic cadence).
        if melody is None and b.phrase_cadence and not (place.last or place.before_last):
            pos, answer = place.bar_no % pl, (place.bar_no // pl) % 2 == 1
            if not answer and pos == pl - 1 and beat == 0:
                bias[dominant_root] += b.phrase_cadence
            if answer and pos == pl - 2 and beat == nb - 1:
                bias[dominant_root] += b.phrase_cadence
            if answer and pos == pl - 1 and beat == 0:
                bias += tonic * (b.phrase_cadence / b.tonic_chord)
        if melody is not None:
            bias += melody_fit_bias(melody, beat, beat16, b.melody_fit)
        elif b.chord_echo and beat < len(place.echo):
            bias[_same_chord_tokens(place.echo[beat])] += b.chord_echo
        ch = sample(logits, rng, c.temperature, c.top_p, allowed=allowed, bias=bias)
        state.hear(ch)
        chords.append(ch)
        logits = stepper.feed([ch])
    state.end_bar(chords, tonic_tokens)
    cad = place.last
    if not place.ends_piece:
        nxt = sample(logits, rng, c.temperature, c.top_p, allowed=CAD_OR_BAR)
        if nxt == V.CAD or cad:
            cad = True
            logits = stepper.feed([V.CAD])
    return BarEvents(tuple(chords), dens - V.DENS0, cad), logits


def generate_backbone(stepper, c: Controls, rng: np.random.Generator, n_bars: int,
                      prefix: tuple[BarEvents, ...] = (), melody: tuple[BarEvents, ...] | None = None,
                      b: Biases = Biases()) -> list[BarEvents]:
    """New bars of chords after `prefix`; with `melody` (one BarEvents per new bar), chords fit its notes."""
    song = Song(c.tonic_pc, c.mode, c.meter, c.tempo_bpm)
    stepper.reset()
    stepper.feed(header_tokens(song))
    for bar in prefix:
        stepper.feed(backbone_bar_tokens(bar))
    state = HarmonyState.holding(prefix)
    out: list[BarEvents] = []
    for i in range(n_bars):
        last = i == n_bars - 1
        bar_no = len(prefix) + i
        echo = chord_echo(list(prefix) + out, bar_no, b.phrase_len) if melody is None else ()
        place = BarPlace(bar_no, first=i == 0 and not prefix, last=last, before_last=i == n_bars - 2,
                         ends_piece=last, echo=echo)
        bar, _ = chord_bar(stepper, c, rng, b, state, place, melody[i].notes if melody is not None else None,
                           melody[i].density if melody is not None else None)
        out.append(bar)
    return out


def generate_melody(stepper, c: Controls, rng: np.random.Generator, bars: list[BarEvents],
                    prefix: tuple[BarEvents, ...] = (), b: Biases = Biases()) -> list[BarEvents]:
    """Notes for each of `bars` (chords given), continuing after the complete `prefix` bars."""
    song = Song(c.tonic_pc, c.mode, c.meter, c.tempo_bpm)
    ppb = positions_per_bar(c.meter)
    stepper.reset()
    stepper.feed(header_tokens(song))
    recent: list[tuple[int, int]] = []
    for k, bar in enumerate(prefix):
        stepper.feed(melody_bar_prefix(bar) + melody_bar_notes(bar))
        recent += [(k * ppb + pos, pitch) for pos, pitch, _ in bar.notes]
    out = []
    history: list[BarEvents] = list(prefix)
    for n, bar in enumerate(bars):
        final = n == len(bars) - 1 and bar.cadence
        # A bar may rest, but not the first or the last, nor two in a row: an empty melody feeds on itself
        # (the model, seeing empty bars, writes more of them) until a piece has no tune at all.
        prev_empty = bool(history) and not history[-1].notes
        must_play = n == 0 and not prefix or n == len(bars) - 1 or prev_empty
        out.append(melody_bar(stepper, c, rng, bar, history, len(prefix) + n, b, final, must_play, recent))
        history.append(out[-1])
    return out


def melody_bar(stepper, c: Controls, rng: np.random.Generator, bar: BarEvents, history: list[BarEvents],
               bar_no: int, b: Biases, final: bool, must_play: bool, recent: list[tuple[int, int]]) -> BarEvents:
    """The melody of one bar over `bar`'s chords, the melody stepper fed up to the bar before; `history` ends
    with that bar. Shared by whole pieces (`generate_melody`) and the live stream (`BarGenerator`). `final`
    leans on the tonic chord's tones; `must_play` forbids an empty bar; `recent` [(pos, pitch)] feeds the
    repetition guard and gains this bar's notes."""
    ppb = positions_per_bar(c.meter)
    p_allowed, p_bias = pitch_bias(c.tonic_pc, c.mode, b)
    logits = stepper.feed(melody_bar_prefix(bar))
    src = motif_source(history, bar_no, b.phrase_len) if b.motif else None
    if src is not None and b.restate > 0 and not final and rng.random() < b.restate:
        # Restate the source bar outright: its rhythm and contour, fed through the model so that its memory
        # holds the bar as written.
        restated = restatement(src, bar, c.tonic_pc, c.mode, ppb, b.pitch_low, b.pitch_high)
        for pos, pitch, dur in restated:
            stepper.feed([V.POS0 + pos, V.pitch_token(pitch), V.duration_token(dur)])
            recent.append((bar_no * ppb + pos, pitch))
        stepper.feed([V.EOB])
        return replace(bar, notes=tuple((p, q, V.DURATIONS[V.duration_token(d) - V.DUR0]) for p, q, d in restated))
    if final:
        home = np.zeros(V.VOCAB_SIZE)
        for p in range(V.PITCH_LOW, V.PITCH_HIGH + 1):
            if (p - c.tonic_pc) % 12 in (0, 3 if c.mode == "minor" else 4, 7):
                home[V.pitch_token(p)] = b.final_tonic_pitch
        p_bias = p_bias + home
    notes: list[tuple[int, int, int]] = []
    last_pos = -1
    while True:
        allowed = _mask(V.POS0 + last_pos + 1, V.POS0 + ppb) | _mask(V.EOB, V.EOB + 1)
        if must_play and not notes:
            allowed = _mask(V.POS0, V.POS0 + ppb)
        if len(notes) >= MAX_NOTES_PER_BAR or last_pos >= ppb - 1:
            allowed = _mask(V.EOB, V.EOB + 1)
        echo = motif_bias(src, bar, last_pos, None, b.motif) if src is not None else None
        t = sample(logits, rng, c.temperature, c.top_p, allowed=allowed, bias=echo)
        logits = stepper.feed([t])
        if t == V.EOB:
            break
        bias = p_bias
        if b.repetition:
            bias = bias + b.repetition * repetition_bias(recent)
        if src is not None:
            bias = bias + motif_bias(src, bar, last_pos, t - V.POS0, b.motif)
        pitch = sample(logits, rng, c.temperature, c.top_p, allowed=p_allowed, bias=bias)
        logits = stepper.feed([pitch])
        dur = sample(logits, rng, c.temperature, c.top_p, allowed=DUR_MASK)
        logits = stepper.feed([dur])
        last_pos = t - V.POS0
        notes.append((last_pos, pitch - V.PITCH0 + V.PITCH_LOW, V.DURATIONS[dur - V.DUR0]))
        recent.append((bar_no * ppb + last_pos, notes[-1][1]))
    return replace(bar, notes=tuple(notes))


def _rng(c: Controls) -> np.random.Generator:
    return np.random.default_rng(c.seed)


def generate_song(models, c: Controls, b: Biases = Biases()) -> Song:
    rng = _rng(c)
    bars = generate_backbone(models.backbone, c, rng, c.bars, b=b)
    bars = generate_melody(models.melody, c, rng, bars, b=b)
    return Song(c.tonic_pc, c.mode, c.meter, c.tempo_bpm, tuple(bars))


def generate_song_in_key(models, c: Controls, retries: int = 2, b: Biases = Biases()) -> tuple[Song, int]:
    """`generate_song`, re-sampled (next seeds) up to `retries` times while the project's key analysis hears
    another key than the one asked for. Returns the song and the number of attempts made."""

    song = generate_song(models, c, b)
    for attempt in range(1, retries + 1):
        if key_matches(song):
            return song, attempt
        seed = None if c.seed is None else c.seed + 7919 * attempt
        song = generate_song(models, replace(c, seed=seed), b)
    return song, retries + 1


def continue_song(models, given: Song, c: Controls, b: Biases = Biases()) -> Song:
    """`c.bars` new bars after the given song (its melody and derived chords); the result holds both."""
    rng = _rng(c)
    c = replace(c, tonic_pc=given.tonic_pc, mode=given.mode, meter=given.meter)
    new = generate_backbone(models.backbone, c, rng, c.bars, prefix=given.bars, b=b)
    new = generate_melody(models.melody, c, rng, new, prefix=given.bars, b=b)
    return replace(given, bars=given.bars + tuple(new))


def harmonize_song(models, given: Song, c: Controls, b: Biases = Biases()) -> Song:
    """New chords under the given melody (whose own derived chords are discarded)."""
    rng = _rng(c)
    c = replace(c, tonic_pc=given.tonic_pc, mode=given.mode, meter=given.meter, tempo_bpm=given.tempo_bpm)
    chords = generate_backbone(models.backbone, c, rng, len(given.bars), melody=given.bars, b=b)
    bars = tuple(replace(g, chords=n.chords, cadence=n.cadence) for g, n in zip(given.bars, chords))
    return replace(given, bars=bars)
