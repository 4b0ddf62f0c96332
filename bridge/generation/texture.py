"""The backbone realised as an accompaniment a player would write. Pure functions, bar by bar.

`realize_bar(song, bar, i, state, style)` turns one bar of the backbone (a chord per beat, the melody notes)
into role notes: voice-led chord voicings (the smallest total movement from the previous voicing) in a
pattern chosen by meter and style (block, arpeggio, Alberti-style broken chord, waltz oom-pah-pah, march
oom-pah, compound-time boom-chick, comping), a bass line on roots with fifths and passing/approach tones,
optional General MIDI drums, phrase-shaped velocities with accents on strong beats and optional seeded
humanised timing. The returned `TextureState` (previous voicing, previous bass...) is all that carries from
one bar to the next, so the offline writer (`encoding.song_to_piece`) and the live jam stream the same way.

Vocabulary vs realisation: the model's tokens know five qualities (major, minor, diminished, augmented,
dominant7; `bridge.generation.vocab`). What this layer adds is *realisation*, never a new token:
- a dominant triad that resolves to the tonic (or closes a phrase) sounds as V7;
- at a phrase end the chord before the cadence's dominant becomes its secondary dominant (V7/V) on the last
  beat it holds, every other phrase;
- on the other phrase ends a dominant held for two beats or more starts as Vsus4 and resolves to V(7);
- the comping style plays the key's diatonic sevenths (ii7, IVmaj7, vi7...) from the shared theory table
  (`bridge.analysis.qualities.KEY_CHORDS`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from bridge.analysis import qualities as T
from bridge.analysis.instruments import ARRANGING_NAMES, ENSEMBLES, without_mood_idioms
from bridge.generation import vocab as V

ROLES = ("chords", "bass", "melody", "drums")
DEFAULT_ROLES = ("chords", "bass", "melody")
PATTERNS = ("block", "arpeggio", "broken", "waltz", "oompah", "compound", "comping")
DRUM_KIT = {"kick": 36, "side": 37, "snare": 38, "hat": 42, "open_hat": 46, "crash": 49, "ride": 51}
DEFAULT_PROGRAMS = {"chords": 0, "bass": 32, "melody": 73, "drums": 0}
DEFAULT_CHANNELS = {"chords": 0, "melody": 1, "bass": 2, "drums": 9}  # zero-based; drums on GM channel 10

CHORD_RANGE = (50, 72)  # upper voices: below the melody's usual register
BASS_RANGE = (33, 52)
BASE_VELOCITY = {"melody": 84, "chords": 58, "bass": 70, "drums": 78}
PHRASE_SPREAD = {"melody": 14, "chords": 12, "bass": 10, "drums": 10}  # quiet at phrase edges, loud mid-phrase


class RoleNote(NamedTuple):
    role: str  # chords | bass | melody | drums
    start_q: float  # quarters from the bar start
    dur_q: float
    pitch: int
    velocity: int


@dataclass(frozen=True)
class TextureStyle:
    pattern: str = "block"
    programs: tuple[tuple[str, int], ...] = tuple(DEFAULT_PROGRAMS.items())
    roles: tuple[str, ...] = DEFAULT_ROLES
    humanize: float = 0.0  # 0 = on the grid; 1 = about +-15 ms timing and +-5 velocity
    seed: int = 0
    drums: str = "rock"  # drum pattern family: rock | brush | waltz | march | compound
    colour: bool = True  # realise V as V7, secondary dominants and suspensions at phrase ends
    sevenths: bool = False  # diatonic sevenths on every chord (comping)
    channels: tuple[tuple[str, int], ...] = tuple(DEFAULT_CHANNELS.items())  # zero-based MIDI channels
    doubles: tuple[tuple[str, int], ...] = ()  # extra (role, program) tracks doubling a role: more instruments

    def __post_init__(self):
        if self.pattern not in PATTERNS:
            raise ValueError(f"unknown texture pattern {self.pattern!r}; use one of {', '.join(PATTERNS)}")
        bad = [r for r in self.roles if r not in ROLES]
        if bad:
            raise ValueError(f"unknown track {bad[0]!r}; use some of {','.join(ROLES)}")

    def program(self, role: str) -> int:
        return dict(self.programs).get(role, DEFAULT_PROGRAMS[role])

    def channel(self, role: str) -> int:
        return dict(self.channels).get(role, DEFAULT_CHANNELS[role])

    def on(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class TextureState:
    """What one bar hands to the next (picklable): the last voicing, bass pitch and chord."""

    voicing: tuple[int, ...] = ()
    bass: int | None = None
    chord: tuple[int, str] | None = None  # (root pc, quality name) of the last realised chord
    chord_bars: int = 0  # bars the last chord has been held over bar lines (alternating bass in a waltz)
    bars: int = 0  # bars realised so far


@dataclass(frozen=True)
class Chord:
    root: int
    quality: str  # a name of bridge.analysis.qualities
    bass_pc: int

    @property
    def pcs(self) -> tuple[int, ...]:
        return T.chord_tones(self.root, self.quality)


# ---------------------------------------------------------------- style from the prompt and the options

_STYLE_WORDS: tuple[tuple[str, str], ...] = (
    ("waltz", "waltz"), ("minuet", "waltz"), ("mazurka", "waltz"), ("jig", "compound"), ("slip jig", "compound"),
    ("barcarolle", "arpeggio"), ("lullaby", "arpeggio"), ("march", "oompah"), ("polka", "oompah"),
    ("reel", "oompah"), ("hornpipe", "broken"), ("hymn", "block"), ("chorale", "block"), ("anthem", "block"),
    ("ballad", "arpeggio"), ("air", "arpeggio"), ("nocturne", "arpeggio"), ("jazz", "comping"),
    ("swing", "comping"), ("bossa", "comping"), ("pop", "comping"), ("rock", "comping"), ("funk", "comping"),
    ("arpeggio", "arpeggio"), ("arpeggiated", "arpeggio"), ("broken chords", "broken"), ("alberti", "broken"),
    ("block chords", "block"), ("comping", "comping"), ("strumming", "comping"),
)  # fmt: skip
# Instruments a style is usually played on when the prompt names none: (melody, chords, bass) GM programs.
_STYLE_INSTRUMENTS: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("jig", (40, 25, 32)), ("reel", (40, 25, 32)), ("hornpipe", (40, 25, 32)), ("polka", (21, 25, 32)),
    ("hymn", (19, 19, 19)), ("chorale", (19, 19, 19)), ("anthem", (61, 48, 58)), ("march", (56, 61, 58)),
    ("jazz", (65, 0, 32)), ("swing", (65, 0, 32)), ("bossa", (73, 24, 32)), ("rock", (29, 27, 33)),
    ("pop", (80, 4, 33)),
)  # fmt: skip
# ("beat" and "dance" are not here: "three beats to the bar" and "a klezmer dance" ask for no drum kit.)
_DRUM_WORDS = ("drums", "drum", "groove", "rock", "pop", "funk", "disco", "band", "percussion", "swing", "jazz",
               "bossa")
_HUMAN_WORDS = ("human", "humanised", "humanized", "loose", "live", "rubato", "expressive")
_COMPOUND = ("6/8", "9/8", "12/8")
_TRIPLE = ("3/4", "3/8", "3/2")


def _words_text(prompt_words) -> str:
    if prompt_words is None:
        return ""
    if isinstance(prompt_words, str):
        return " " + prompt_words.lower() + " "
    return " " + " ".join(str(w).lower() for w in prompt_words) + " "


def _has(text: str, phrase: str) -> bool:
    return re.search(rf"\b{re.escape(phrase)}(?:e?s)?\b", text) is not None


def texture_words(text: str) -> list[str]:
    """The words of `text` the texture layer reads (style, drum and feel words)."""
    low = _words_text(text)
    words = [w for w, _ in _STYLE_WORDS] + list(_DRUM_WORDS) + list(_HUMAN_WORDS)
    return [w for w in words if _has(low, w)]


def prompt_instruments(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """The instruments a prompt names, in the order named: (words, GM programs to write, 128 = drums).

    Ensembles give their line-up ("string quartet" -> two violins, viola, cello), the arranging names one
    program each (both tables in `bridge.analysis.instruments`, which search reads too), and everything else
    the search parser (`bridge.query.parse_query`) reads, one representative program per term. The line-ups
    are matched here first because search keeps only their set of programs, not the players."""
    from bridge.query import parse_query

    low = " " + without_mood_idioms(_words_text(text).replace("‑", "-")) + " "
    found: list[tuple[int, str, tuple[int, ...]]] = []
    table = [(w, progs) for w, progs in ENSEMBLES.items()] + [(w, (p,)) for w, p in ARRANGING_NAMES.items()]
    for phrase, progs in sorted(table, key=lambda wp: -len(wp[0])):
        body = "[- ]?".join(re.escape(part) for part in phrase.split("-"))  # "steel-string", "steel string"
        pat = re.compile(rf"(?<![\w-]){body}(?:e?s)?(?![\w-])")
        for m in pat.finditer(low):
            found.append((m.start(), phrase, progs))
        low = pat.sub(lambda m: " " * len(m.group(0)), low)
    for term in parse_query(low).instruments:
        at = low.find(term.label.split()[0])
        found.append((at if at >= 0 else len(low), term.label, (representative_program(term.label, term.programs),)))
    return [(label, progs) for _, label, progs in sorted(found, key=lambda f: f[0])]


def prompt_instrument_words(text: str) -> list[str]:
    """The words of `text` that name instruments (for the prompt parser's matched list)."""
    return [label for label, _ in prompt_instruments(text)]


def pattern_for(meter: str, text: str) -> str:
    """The accompaniment pattern a style word asks for, made to fit the meter."""
    chosen = None
    for phrase, pattern in sorted(_STYLE_WORDS, key=lambda pw: -len(pw[0])):
        if _has(text, phrase):
            chosen = pattern
            break
    if chosen is None:
        chosen = "waltz" if meter in _TRIPLE else "compound" if meter in _COMPOUND else \
            "oompah" if meter in ("2/4", "2/2") else "broken"
    # A pattern that names a meter only fits that meter.
    if chosen == "waltz" and meter not in _TRIPLE:
        chosen = "compound" if meter in _COMPOUND else "oompah"
    if chosen == "compound" and meter not in _COMPOUND:
        chosen = "waltz" if meter in _TRIPLE else "oompah"
    return chosen


def _drum_family(meter: str, pattern: str, text: str) -> str:
    if meter in _COMPOUND:
        return "compound"
    if meter in _TRIPLE:
        return "waltz"
    if pattern == "oompah" or _has(text, "march"):
        return "march"
    if pattern == "arpeggio" or any(_has(text, w) for w in ("ballad", "gentle", "soft", "calm", "jazz", "swing")):
        return "brush"
    return "rock"


# Instrument families by what they can play: index = program // 8 (GM families).
_POLY_FAMILIES = {0, 1, 2, 3, 11}  # piano, chromatic percussion, organ, guitar, synth pad
_BASS_PROGRAMS = set(range(32, 40)) | {43, 58, 70}  # basses, contrabass, tuba, bassoon
_MONO_FAMILIES = {7, 8, 9, 10}  # brass, reed, pipe, synth lead
_LOW_PROGRAMS = {42, 43, 57, 58, 67, 70, 32, 33, 34, 35}  # can carry a bass line when no melody is wanted
_POLY_PROGRAMS = {46, 48, 49, 50, 51, 52, 53, 54, 105, 107}  # harp, string ensembles, choir, banjo, koto


def _melody_lean(program: int) -> int:
    """2: a melody instrument, 1: either, 0: chords first (piano, guitar, harp)."""
    if program == 128 or program in _BASS_PROGRAMS:
        return -1
    if program in _POLY_PROGRAMS or program // 8 in _POLY_FAMILIES:
        return 0 if program not in (48, 49, 50, 51, 52, 53, 54) else 1
    if program // 8 in _MONO_FAMILIES or program in (40, 41, 42, 110, 111, 109, 22, 21, 23):
        return 2
    return 1


def _bass_for(chords_program: int) -> int:
    """A bass that suits the chord instrument: the left hand of a keyboard or harp, a cello under strings..."""
    family = chords_program // 8
    if family in (0, 1, 2) or chords_program in (46, 105, 107):
        return chords_program
    if family == 3:
        return 32  # acoustic bass under guitars
    if family in (5, 6):
        return 42 if chords_program not in (50, 51) else 38  # cello under strings; synth bass under synth
    if family == 7:
        return 58  # tuba
    if family in (8, 9):
        return 70  # bassoon under woodwinds
    return 33


def assign_instruments(programs: Sequence[int], roles: Iterable[str] = DEFAULT_ROLES) -> dict:
    """Requested GM programs (128 = drums), in the order asked, spread over the roles.

    Returns {"programs": {role: program}, "roles": roles on, "doubles": [(role, program)]}; every requested
    program ends up on a track: drums on the drum track, basses on the bass, the most melodic instrument on
    the melody, the most chordal on the chords, one instrument alone on every pitched role, and any left over
    doubling the chords."""
    roles = list(roles)
    out: dict[str, int] = {}
    doubles: list[tuple[str, int]] = []
    rest = []
    for p in programs:
        p = int(p)
        if p == 128:
            if "drums" not in roles:
                roles.append("drums")
            out["drums"] = 0
        elif p in _BASS_PROGRAMS and "bass" not in out and len([q for q in programs if q != 128]) > 1:
            out["bass"] = p
            if "bass" not in roles:
                roles.append("bass")
        else:
            rest.append(p)
    if rest:
        left = list(rest)
        if "melody" in roles:
            melody = max(left, key=lambda p: (_melody_lean(p), -left.index(p)))
            left.remove(melody)
            out["melody"] = melody
        chords = min(left, key=lambda p: (_melody_lean(p), left.index(p))) if left else out["melody"]
        if chords in left:
            left.remove(chords)
        out["chords"] = chords
        for p in left:
            if "bass" not in out and (p in _LOW_PROGRAMS or p in _BASS_PROGRAMS):
                out["bass"] = p  # a cello, trombone or bassoon left over takes the bass line
                if "bass" not in roles:
                    roles.append("bass")
            else:
                doubles.append(("chords", p))
        if "bass" not in out:
            out["bass"] = _bass_for(chords)
    for role in roles:
        out.setdefault(role, DEFAULT_PROGRAMS[role])
    return {"programs": out, "roles": tuple(r for r in ROLES if r in roles), "doubles": tuple(doubles)}


def style_for(meter: str, prompt_words, instruments=None, tracks=None, humanize: float | None = None,
              seed: int = 0, channels: Mapping[str, int] | None = None, pattern: str | None = None,
              without: Iterable[str] = ()) -> TextureStyle:
    """The texture a prompt asks for: pattern from style words and meter, instruments and drums from the words.

    `prompt_words`: the prompt (a string or its words). `instruments`: GM programs in the order asked
    (128 = drums), or {role: program}; either overrides the instruments the prompt names. `tracks`: the roles
    to write (subset of chords, bass, melody, drums). `channels`: {role: zero-based channel}. `without`: roles
    another part already plays (--harmonize: the user's melody), left out before instruments are assigned."""
    from bridge.query import DRUMS

    text = _words_text(prompt_words)
    pattern = pattern or pattern_for(meter, text)
    without = set(without)
    roles: list[str] = [r for r in DEFAULT_ROLES if r not in without]
    programs = dict(DEFAULT_PROGRAMS)
    doubles: tuple = ()
    asked: list[int] = []
    by_role = isinstance(instruments, Mapping)
    if instruments is None or by_role:
        asked = [p for _, progs in prompt_instruments(text) for p in progs]
    else:
        asked = [int(p) for p in instruments]
    if not [p for p in asked if p != DRUMS] and (instruments is None or by_role):
        for word, (mel, cho, bas) in _STYLE_INSTRUMENTS:
            if _has(text, word):
                programs.update(melody=mel, chords=cho, bass=bas)
                break
        else:
            programs["bass"] = _bass_for(programs["chords"])
    if [p for p in asked if p != DRUMS]:
        a = assign_instruments(asked, roles)
        programs.update(a["programs"])
        roles, doubles = list(a["roles"]), a["doubles"]
    elif asked:  # drums alone: the style's instruments stay
        roles.append("drums")
    if isinstance(instruments, Mapping):
        for role, p in instruments.items():
            if role not in ROLES:
                raise ValueError(f"unknown track {role!r}; use some of {','.join(ROLES)}")
            if role == "drums" or int(p) == DRUMS:
                programs["drums"] = 0
                if "drums" not in roles:
                    roles.append("drums")
            else:
                programs[role] = int(p)
                if role not in roles:
                    roles.append(role)
        if "chords" in instruments and "bass" not in instruments and not any(p in _BASS_PROGRAMS for p in asked):
            programs["bass"] = _bass_for(programs["chords"])
    if any(_has(text, w) for w in _DRUM_WORDS) and "drums" not in roles:
        roles.append("drums")
    if tracks is not None:
        tracks = [t.strip().lower() for t in (tracks.split(",") if isinstance(tracks, str) else tracks)]
        bad = [t for t in tracks if t not in ROLES]
        if bad:
            raise ValueError(f"unknown track {bad[0]!r}; use some of {','.join(ROLES)}")
        roles = tracks
    roles = [r for r in roles if r not in without]
    if humanize is None:
        humanize = 0.6 if any(_has(text, w) for w in _HUMAN_WORDS) else 0.0
    chans = dict(DEFAULT_CHANNELS)
    if channels:
        chans.update({k: int(v) for k, v in channels.items()})
    return TextureStyle(pattern=pattern, programs=tuple(programs.items()), roles=tuple(r for r in ROLES if r in roles),
                        humanize=float(humanize), seed=int(seed), drums=_drum_family(meter, pattern, text),
                        colour=True, sevenths=pattern == "comping", channels=tuple(chans.items()),
                        doubles=tuple(doubles))


def representative_program(label: str, programs: Iterable[int]) -> int:
    """The one GM program an instrument word stands for: the program named exactly by it, else the first
    whose name starts with it ("strings" -> String Ensemble 1), else the first containing it, else the lowest."""
    from bridge.analysis.instruments import GM_PROGRAM_NAMES

    progs = sorted(int(p) for p in programs)
    if 128 in progs:
        return 128
    word = label.lower().strip()
    stem = word[:-1] if word.endswith("s") else word

    def rank(p: int) -> tuple[int, int]:
        name = " ".join(re.sub(r"\(.*?\)|\d+", " ", GM_PROGRAM_NAMES[p].lower()).split())
        if name in (word, stem):
            return 0, p
        if word.endswith("s") and name.startswith(stem):
            return 1, p  # a plural names the ensemble: "strings" -> String Ensemble 1, "brass" -> Brass Section
        if name.split()[-1] in (word, stem):
            return 2, p  # "guitar" -> Acoustic Guitar (nylon), "harp" -> Orchestral Harp
        if stem in name:
            return 3, p
        return 4, p

    return min(progs, key=rank) if progs else 0


# ---------------------------------------------------------------- harmony: vocabulary -> realised chords


def _beats(song) -> tuple[int, float]:
    from bridge.generation.encoding import beats_per_bar

    nb = beats_per_bar(song.meter)
    return nb, song.bar_quarters / nb


def _token_chord(tok: int) -> Chord:
    root, q, inv = V.chord_of_token(int(tok))
    name = V.QUALITIES[q]
    pcs = T.chord_tones(root, name)
    return Chord(root, name, pcs[min(inv, len(pcs) - 1)])


def bar_chords(bar, nbeats: int, fallback: Chord | None = None) -> list[Chord]:
    """One vocabulary chord per beat (padding a short bar with its last chord)."""
    toks = [t for t in bar.chords if V.is_chord(t)]
    chords = [_token_chord(t) for t in toks[:nbeats]]
    if not chords:
        chords = [fallback or Chord(0, "major", 0)]
    while len(chords) < nbeats:
        chords.append(chords[-1])
    return chords


def realized_chords(song, bar, bar_index: int, style: TextureStyle, phrase_len: int = 4) -> list[Chord]:
    """The chord heard on each beat: the backbone's chord with the realisation rules of the module docstring."""
    nb, _ = _beats(song)
    chords = bar_chords(bar, nb)
    if not style.colour and not style.sevenths:
        return chords
    tonic, mode = song.tonic_pc % 12, song.mode
    dom = (tonic + 7) % 12
    nxt_bar = song.bars[bar_index + 1] if bar_index + 1 < len(song.bars) else None
    nxt_first = bar_chords(nxt_bar, nb)[0] if nxt_bar is not None else None
    phrase_end = bar.cadence or (bar_index % phrase_len == phrase_len - 1)
    out = list(chords)
    if style.colour:
        pos = bar_index % phrase_len
        cadential = bar.cadence or pos >= phrase_len - 2 or nxt_bar is None or bar_index + 2 >= len(song.bars)
        phrase_end = bar.cadence or pos == phrase_len - 1
        spans = _spans(chords)

        def is_dominant(c: Chord | None) -> bool:
            return c is not None and c.root == dom and c.quality in ("major", "dominant7")

        def v_of_v() -> Chord:
            r, q = T.secondary_dominant(dom)
            return Chord(r, q, r)

        # V7/V on the last beat of a chord held two beats or more before a cadence's dominant.
        if cadential:
            for k in range(1, len(spans)):
                b0, _n, c = spans[k]
                _pb, pn, pc = spans[k - 1]
                if is_dominant(c) and pn >= 2 and pc.root != dom:
                    out[b0 - 1] = v_of_v()
            nxt_cadential = nxt_bar is not None and (nxt_bar.cadence or (bar_index + 1) % phrase_len >= phrase_len - 2)
            b0, n, c = spans[-1]
            if nxt_cadential and is_dominant(nxt_first) and n >= 2 and c.root != dom:
                out[nb - 1] = v_of_v()
        # Dominant triads that resolve to the tonic (or close a phrase) sound as V7.
        for b in range(nb):
            if chords[b].root != dom or chords[b].quality != "major" or out[b] != chords[b]:
                continue
            following = chords[b + 1] if b + 1 < nb else nxt_first
            if (following is not None and following.root == tonic and following.root != dom) or phrase_end:
                out[b] = Chord(dom, "dominant7", chords[b].bass_pc)
        # A dominant held two beats or more at a cadence starts suspended: Vsus4 -> V(7).
        if cadential:
            for b0, n, c in _spans(out):
                if is_dominant(c) and n >= 2:
                    out[b0] = Chord(dom, "sus4", dom)
                    break
    if style.sevenths:
        out = [Chord(c.root, T.seventh_of(c.root, c.quality, tonic, mode), c.bass_pc)
               if not T.QUALITY_BY_NAME[c.quality].is_seventh and c.quality in ("major", "minor", "diminished")
               else c for c in out]
    return out


def _spans(chords: list[Chord]) -> list[tuple[int, int, Chord]]:
    """(first beat, beats, chord) for each run of equal chords."""
    spans: list[tuple[int, int, Chord]] = []
    for b, c in enumerate(chords):
        if spans and spans[-1][2] == c:
            spans[-1] = (spans[-1][0], spans[-1][1] + 1, c)
        else:
            spans.append((b, 1, c))
    return spans


# ---------------------------------------------------------------- voicing and bass


def voice_lead(pcs: Sequence[int], previous: Sequence[int], low: int = CHORD_RANGE[0],
               high: int = CHORD_RANGE[1]) -> tuple[int, ...]:
    """Upper voices holding every chord tone once, inside [low, high], moving least from `previous`.

    Cost: each voice's distance to the nearest previous voice and back (so voicings of 3 and 4 notes compare),
    plus a pull to the middle of the range and a penalty on spreads wider than a tenth."""
    cands = [[p for p in range(low, high + 1) if p % 12 == pc % 12] for pc in pcs]
    centre = (low + high) / 2
    best, best_cost = None, math.inf
    prev = np.asarray(sorted(previous), dtype=np.float64)

    def rec(i: int, chosen: list[int]):
        nonlocal best, best_cost
        if i == len(cands):
            v = np.asarray(sorted(chosen), dtype=np.float64)
            if len(set(chosen)) < len(chosen):
                return
            spread = v[-1] - v[0]
            cost = 0.25 * max(0.0, spread - 16) + 0.05 * abs(v.mean() - centre)
            if len(prev):
                d = np.abs(v[:, None] - prev[None, :])
                cost += d.min(axis=1).sum() + d.min(axis=0).sum()
            else:
                cost += 0.5 * abs(v.mean() - 62) + 0.3 * max(0.0, spread - 9)
            if cost < best_cost:
                best, best_cost = tuple(int(x) for x in v), cost
            return
        for p in cands[i]:
            rec(i + 1, chosen + [p])

    rec(0, [])
    return best if best is not None else tuple(sorted(low + (pc - low) % 12 for pc in pcs))


def movement(a: Sequence[int], b: Sequence[int]) -> float:
    """Semitones the voices move from voicing `a` to voicing `b`: voice by voice (lowest to lowest...) when
    both have as many voices, else half the nearest-voice distances both ways."""
    if not len(a) or not len(b):
        return 0
    if len(a) == len(b):
        return int(np.abs(np.sort(a) - np.sort(b)).sum())
    d = np.abs(np.asarray(b)[:, None] - np.asarray(a)[None, :])
    return float(d.min(axis=1).sum() + d.min(axis=0).sum()) / 2


def _bass_pitch(pc: int, prev: int | None) -> int:
    lo, hi = BASS_RANGE
    options = [p for p in range(lo, hi + 1) if p % 12 == pc % 12]
    ref = prev if prev is not None else 41
    return min(options, key=lambda p: (abs(p - ref) + 0.3 * max(0, p - 48), p))


def _approach(target: int, current: int, scale: frozenset[int]) -> int | None:
    """A passing or approach tone from `current` to `target` (MIDI): the scale step between for a third,
    the scale tone next to the target (on the side we come from) for larger leaps, none for steps."""
    gap = target - current
    if abs(gap) <= 2 or gap == 0:
        return None
    step = 1 if gap > 0 else -1
    if abs(gap) <= 4:
        for p in range(current + step, target, step):
            if p % 12 in scale:
                return p
        return current + step
    p = target - step
    while p % 12 not in scale and abs(p - target) < 3:
        p -= step
    return p if abs(p - target) <= 2 else target - step


# ---------------------------------------------------------------- dynamics and timing


def phrase_velocity(role: str, bar_index: int, onset_q: float, bar_q: float, beat_q: float, phrase_len: int,
                    n_bars: int | None = None) -> int:
    """Velocity from the phrase arch (softer at phrase edges, loudest two thirds in) plus metric accents."""
    pos = ((bar_index % phrase_len) + onset_q / bar_q) / phrase_len
    if pos < 0.67:
        arch = math.sin(0.5 * math.pi * pos / 0.67)
    else:
        arch = math.cos(0.5 * math.pi * (pos - 0.67) / 0.33)
    v = BASE_VELOCITY[role] + PHRASE_SPREAD[role] * (arch - 0.5)
    if (bar_index // phrase_len) % 2 == 1:
        v += 4  # the answering phrase of each pair a little louder
    if n_bars and bar_index == n_bars - 1:
        v -= 6 * onset_q / bar_q  # the last bar dies away
    beat = onset_q / beat_q
    if abs(onset_q) < 1e-6:
        v += 10
    elif abs(beat - round(beat)) < 1e-6:
        nb = round(bar_q / beat_q)
        v += 5 if (nb % 2 == 0 and round(beat) == nb // 2) else 2
    else:
        v -= 4
    return int(np.clip(round(v), 20, 124))


def _humanize(notes: list[RoleNote], style: TextureStyle, bar_index: int, bar_q: float) -> list[RoleNote]:
    if style.humanize <= 0 or not notes:
        return notes
    rng = np.random.default_rng([int(style.seed) & 0xFFFFFFFF, bar_index])
    out = []
    for n in notes:
        jitter = float(np.clip(rng.normal(0, 0.012 * style.humanize), -0.03, 0.03))
        dv = int(round(rng.normal(0, 3 * style.humanize)))
        start = min(max(0.0, n.start_q + jitter), bar_q - 1e-3)
        out.append(n._replace(start_q=round(start, 4), velocity=int(np.clip(n.velocity + dv, 1, 127))))
    return out


# ---------------------------------------------------------------- patterns


def _chord_hits(pattern: str, spans, voicings, nb: int, beat_q: float, bar_q: float, with_bass: bool,
                bass_notes: list[int]) -> list[tuple[float, float, int]]:
    """(start, dur, pitch) of the chord role for one bar."""
    hits: list[tuple[float, float, int]] = []
    beat_chord = {}
    for (b0, n, _), v in zip(spans, voicings):
        for b in range(b0, b0 + n):
            beat_chord[b] = (v, b0, n)
    for (b0, n, _), v, low in zip(spans, voicings, bass_notes):
        s, e = b0 * beat_q, (b0 + n) * beat_q
        if pattern == "block":
            hits += [(s, e - s, p) for p in v]
        elif pattern in ("arpeggio", "broken"):
            step = 0.5 if beat_q >= 1.0 else beat_q / 2
            if pattern == "arpeggio":
                seq = list(v) + list(v[-2:0:-1])
            else:  # Alberti: low, high, middle, high
                seq = [v[0], v[-1], v[len(v) // 2], v[-1]]
            t, k = s, 0
            while t < e - 1e-6:
                hits.append((t, min(2 * step, e - t), seq[k % len(seq)]))
                t += step
                k += 1
        elif pattern == "comping":
            for b in range(b0, b0 + n):
                t = b * beat_q
                hits += [(t, 0.6 * beat_q, p) for p in v]
                if nb >= 4 and b % 2 == 1:  # an anticipation on the "and" of 2 and 4
                    hits += [(t + 0.5 * beat_q, 0.4 * beat_q, p) for p in v]
        elif pattern == "waltz":
            for b in range(b0, b0 + n):
                t = b * beat_q
                if b == 0 and not with_bass:
                    hits.append((t, 0.9 * beat_q, low))
                elif b > 0:
                    hits += [(t, 0.75 * beat_q, p) for p in v]
        elif pattern == "oompah":
            for b in range(b0, b0 + n):
                t = b * beat_q
                if not with_bass:
                    hits.append((t, 0.45 * beat_q, low))
                hits += [(t + 0.5 * beat_q, 0.4 * beat_q, p) for p in v]
        elif pattern == "compound":
            eighth = beat_q / 3
            for b in range(b0, b0 + n):
                t = b * beat_q
                if not with_bass:
                    hits.append((t, 2 * eighth, low))
                hits += [(t + 2 * eighth, 0.9 * eighth, p) for p in v]
    return hits


def _bass_line(pattern: str, spans, chords_next: Chord | None, state: TextureState, nb: int, beat_q: float,
               scale: frozenset[int], alternate: bool) -> tuple[list[tuple[float, float, int]], int | None]:
    """(start, dur, pitch) of the bass for one bar, and the last bass pitch."""
    out: list[tuple[float, float, int]] = []
    prev = state.bass
    for k, (b0, n, c) in enumerate(spans):
        root_pc = c.bass_pc
        first = _bass_pitch(root_pc, prev)
        fifth = _bass_pitch((c.root + 7) % 12, first)
        if alternate and k == 0 and b0 == 0 and c.bass_pc == c.root:
            first, fifth = fifth, first  # the chord goes on over the bar line: alternate root and fifth
        nxt = spans[k + 1][2] if k + 1 < len(spans) else chords_next
        if pattern in ("waltz",):
            out.append((b0 * beat_q, min(n, 1) * beat_q * 0.95, first))
            prev = first
            continue
        if pattern in ("oompah", "compound"):
            per = [first if (b - b0) % 2 == 0 else fifth for b in range(b0, b0 + n)]
            dur = 0.45 * beat_q if pattern == "oompah" else 2 * beat_q / 3
        elif n >= 3 and nb >= 3:
            per = [first] + [None] * (n - 1)
            per[2 if n >= 3 else 1] = fifth
            dur = None
        else:
            per = [first] + [None] * (n - 1)
            dur = None
        # An approach tone into the next chord on the span's last beat (when that beat has no note of its own).
        if nxt is not None and (nxt.bass_pc != c.bass_pc or nxt.root != c.root):
            last_note = next(p for p in reversed(per) if p is not None)
            target = _bass_pitch(nxt.bass_pc, last_note)
            ap = _approach(target, last_note, scale)
            if ap is not None and BASS_RANGE[0] <= ap <= BASS_RANGE[1] + 2:
                if n >= 2 and pattern not in ("oompah", "compound"):
                    per[-1] = ap
                elif n >= 2:
                    per[-1] = ap
                else:
                    # one-beat span: the approach takes the second half of the beat
                    out.append((b0 * beat_q, beat_q / 2, first))
                    out.append((b0 * beat_q + beat_q / 2, beat_q / 2, ap))
                    prev = ap
                    continue
        # Hold each bass note until the next one.
        times = [(b0 + i) * beat_q for i, p in enumerate(per) if p is not None]
        pitches = [p for p in per if p is not None]
        ends = times[1:] + [(b0 + n) * beat_q]
        for t, e, p in zip(times, ends, pitches):
            out.append((t, dur if dur is not None else (e - t) * 0.95, p))
        prev = pitches[-1]
    return out, prev


def _drum_hits(family: str, nb: int, beat_q: float, bar_q: float, bar_index: int, phrase_len: int,
               last_bar: bool) -> list[tuple[float, float, int]]:
    K = DRUM_KIT
    hits: list[tuple[float, float, int]] = []
    phrase_start = bar_index % phrase_len == 0
    fill = bar_index % phrase_len == phrase_len - 1 and not last_bar
    if family == "compound":
        eighth = beat_q / 3
        for b in range(nb):
            t = b * beat_q
            hits.append((t, 0.25, K["kick"] if b % 2 == 0 else K["snare"]))
            hits += [(t + eighth * i, 0.2, K["hat"]) for i in range(3)]
    elif family == "waltz":
        hits.append((0.0, 0.25, K["kick"]))
        hits += [(b * beat_q, 0.2, K["side"]) for b in range(1, nb)]
        hits += [(b * beat_q, 0.2, K["hat"]) for b in range(nb)]
    elif family == "march":
        for b in range(nb):
            t = b * beat_q
            hits.append((t, 0.25, K["kick"] if b % 2 == 0 else K["snare"]))
            hits.append((t + beat_q / 2, 0.2, K["snare"]))
    elif family == "brush":
        for b in range(nb):
            t = b * beat_q
            hits.append((t, 0.3, K["ride"]))
            if b % 2 == 1:
                hits.append((t, 0.2, K["side"]))
        hits.append((0.0, 0.3, K["kick"]))
    else:  # rock
        for b in range(nb):
            t = b * beat_q
            hits.append((t, 0.25, K["kick"] if b % 2 == 0 else K["snare"]))
            hits += [(t, 0.2, K["hat"]), (t + beat_q / 2, 0.2, K["hat"])]
        if nb >= 4:
            hits.append((2.5 * beat_q, 0.25, K["kick"]))
    if phrase_start:
        hits = [h for h in hits if not (h[0] == 0.0 and h[2] in (K["hat"], K["ride"]))]
        hits.append((0.0, 1.0, K["crash"]))
    if fill:
        start = bar_q - beat_q
        hits = [h for h in hits if h[0] < start - 1e-6 or h[2] == K["kick"]]
        step = beat_q / 4 if beat_q <= 1.0 else beat_q / 3
        t = start
        while t < bar_q - 1e-6:
            hits.append((t, 0.15, K["snare"]))
            t += step
    if last_bar:
        hits = [h for h in hits if h[0] == 0.0] + [(0.0, 1.0, K["crash"])]
    return sorted(set(hits))


# ---------------------------------------------------------------- one bar


def realize_bar(song, bar, bar_index: int, state: TextureState, style: TextureStyle,
                phrase_len: int = 4) -> tuple[list[RoleNote], TextureState]:
    """Role notes of one bar (times in quarters from the bar start) and the state for the next bar."""
    nb, beat_q = _beats(song)
    bar_q = song.bar_quarters
    phrase_len = max(1, int(phrase_len))
    chords = realized_chords(song, bar, bar_index, style, phrase_len)
    spans = _spans(chords)
    nxt = song.bars[bar_index + 1] if bar_index + 1 < len(song.bars) else None
    chords_next = bar_chords(nxt, nb)[0] if nxt is not None else None
    scale = T.scale_pcs(song.tonic_pc, song.mode)

    voicings = []
    prev_v = state.voicing
    for _, _, c in spans:
        v = voice_lead(c.pcs, prev_v)
        voicings.append(v)
        prev_v = v
    held = state.chord == (chords[0].root, chords[0].quality)
    alternate = held and state.chord_bars % 2 == 1
    bass, last_bass = _bass_line(style.pattern, spans, chords_next, state, nb, beat_q, scale, alternate)
    # Without a bass track the chord part plays its own low note ("oom") in the tenor register.
    lows = [45 + (c.bass_pc - 45) % 12 for _, _, c in spans]

    n_bars = len(song.bars) or None
    notes: list[RoleNote] = []

    def add(role: str, start: float, dur: float, pitch: int):
        vel = phrase_velocity(role, bar_index, start, bar_q, beat_q, phrase_len, n_bars)
        notes.append(RoleNote(role, round(float(start), 4), round(max(0.05, float(dur)), 4), int(pitch), vel))

    if style.on("chords"):
        for s, d, p in _chord_hits(style.pattern, spans, voicings, nb, beat_q, bar_q, style.on("bass"), lows):
            add("chords", s, d, p)
    if style.on("bass"):
        for s, d, p in bass:
            add("bass", s, d, p)
    if style.on("melody"):
        from bridge.generation.vocab import POSITIONS_PER_QUARTER as PPQ

        for pos, pitch, dur in bar.notes:
            s = pos / PPQ
            d = min(dur / PPQ, bar_q - s) if dur > 0 else 0.25
            add("melody", s, max(d, 0.125), pitch)
    if style.on("drums"):
        for s, d, p in _drum_hits(style.drums, nb, beat_q, bar_q, bar_index, phrase_len,
                                  n_bars is not None and bar_index == n_bars - 1):
            add("drums", s, d, p)
    notes = _humanize(notes, style, bar_index, bar_q)
    notes.sort(key=lambda n: (n.start_q, ROLES.index(n.role), n.pitch))
    last = chords[-1]
    same = state.chord == (last.root, last.quality) and len(spans) == 1
    new_state = replace(state, voicing=voicings[-1], bass=last_bass if last_bass is not None else state.bass,
                        chord=(last.root, last.quality), chord_bars=state.chord_bars + 1 if same else 1,
                        bars=state.bars + 1)
    return notes, new_state


def realize_song(song, style: TextureStyle, phrase_len: int = 4, state: TextureState | None = None,
                 first_bar: int = 0) -> list[tuple[int, list[RoleNote]]]:
    """Every bar from `first_bar` through `realize_bar`: [(bar index, notes)]."""
    state = state or TextureState()
    out = []
    for i in range(first_bar, len(song.bars)):
        notes, state = realize_bar(song, song.bars[i], i, state, style, phrase_len)
        out.append((i, notes))
    return out


__all__ = ["ROLES", "PATTERNS", "RoleNote", "TextureStyle", "TextureState", "Chord", "realize_bar", "realize_song",
           "realized_chords", "style_for", "assign_instruments", "representative_program", "voice_lead", "movement",
           "phrase_velocity", "pattern_for"]
