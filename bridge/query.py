"""Musical constraints stated in a text query: key, mode, meter, tempo and instruments (pure functions).

"sad piano melody in A minor, 3/4, around 90 bpm" -> key A minor, meter 3/4, tempo 86-94, piano;
plus soft hints ("sad" leans minor, "melody" leans monophonic) that only rank when no model is loaded.
The vocabularies (tempo words, GM program names and families) come from bridge.analysis, so what the
parser understands is exactly what the analysis writes into the index.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from bridge.analysis import TEMPO_WORDS, tempo_range
from bridge.analysis.instruments import GM_FAMILIES, GM_PROGRAM_NAMES
from bridge.analysis.names import parse_pc, tonic_name

DRUMS = 128  # the index's "program" for drum-channel notes

# ---- vocabularies --------------------------------------------------------------------------------

# English tempo words (BPM ranges, inclusive); Italian words come from bridge.analysis.TEMPO_WORDS.
ENGLISH_TEMPI: dict[str, tuple[float, float]] = {
    "very slow": (0.0, 60.0),
    "slow": (0.0, 80.0),
    "slowly": (0.0, 80.0),
    "moderate": (80.0, 120.0),
    "medium tempo": (80.0, 120.0),
    "mid-tempo": (80.0, 120.0),
    "fast": (120.0, math.inf),
    "quick": (120.0, math.inf),
    "brisk": (120.0, math.inf),
    "lively": (112.0, math.inf),
    "upbeat": (112.0, math.inf),
    "uptempo": (120.0, math.inf),
    "very fast": (160.0, math.inf),
}

METER_WORDS: dict[str, str] = {
    "waltz": "3/4",
    "common time": "4/4",
    "cut time": "2/2",
    "alla breve": "2/2",
    "triple meter": "3/4",
    "triple time": "3/4",
}

# Words musicians use that are not GM names; values are GM programs (128 = drums).
INSTRUMENT_SYNONYMS: dict[str, frozenset[int]] = {
    "drums": frozenset({DRUMS}),
    "drum kit": frozenset({DRUMS}),
    "drum": frozenset({DRUMS}),
    "percussion": frozenset({DRUMS, *range(8, 16), 47, *range(112, 120)}),
    "keys": frozenset(range(0, 8)),
    "keyboard": frozenset(range(0, 8)),
    "sax": frozenset(range(64, 68)),
    "saxophone": frozenset(range(64, 68)),
    "voice": frozenset({52, 53, 54, 85, 91}),
    "vocal": frozenset({52, 53, 54, 85, 91}),
    "choir": frozenset({52, 53, 54, 91}),
    "singing": frozenset({52, 53, 54}),
    "string": frozenset({*range(40, 46), *range(48, 52)}),
    "strings": frozenset({*range(40, 46), *range(48, 52)}),
    "woodwind": frozenset(range(64, 80)),
    "horn": frozenset({60}),
    "fiddle": frozenset({40, 110}),
    "double bass": frozenset({43, 32}),
    "upright bass": frozenset({32, 43}),
    "synth": frozenset(range(80, 104)),
    "synthesizer": frozenset(range(80, 104)),
    "harp": frozenset({46}),
    "guitar": frozenset(range(24, 32)),
    "organ": frozenset(range(16, 24)),
    "piano": frozenset(range(0, 8)),
}

# GM names whose plain words mean something else in a query ("lead melody", "a soft pad").
_AMBIGUOUS_NAMES = {"lead", "pad", "fx", "applause", "seashore", "gunshot", "helicopter", "whistle", "recorder"}

MOOD_MODES: dict[str, str] = {
    **dict.fromkeys(("sad", "melancholy", "melancholic", "dark", "mournful", "somber", "sombre", "gloomy",
                     "tragic", "sorrowful", "plaintive", "lament"), "minor"),
    **dict.fromkeys(("happy", "bright", "cheerful", "joyful", "joyous", "uplifting", "sunny", "triumphant",
                     "festive"), "major"),
}  # fmt: skip

TEXTURE_WORDS: dict[str, str] = {
    **dict.fromkeys(("melody", "tune", "solo", "monophonic", "line", "unaccompanied"), "monophonic"),
    **dict.fromkeys(("chords", "chordal", "chorale", "hymn", "homophonic", "accompaniment"), "homophonic"),
    **dict.fromkeys(("counterpoint", "contrapuntal", "fugue", "canon", "polyphonic"), "polyphonic"),
}
DYNAMICS_WORDS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("loud", "powerful", "forte"), ("f", "ff")),
    **dict.fromkeys(("quiet", "soft", "gentle", "piano dynamics", "calm"), ("pp", "p", "mp")),
}
REGISTER_WORDS: dict[str, str] = {"low": "low", "deep": "low", "high": "high"}


@dataclass(frozen=True)
class InstrumentTerm:
    label: str  # the words that matched: "violin", "strings"
    programs: frozenset[int]


@dataclass(frozen=True)
class Constraints:
    """What a text says about the music; `None`/empty means the text does not say."""

    tonic_pc: int | None = None
    mode: str | None = None
    meter: str | None = None
    tempo: tuple[float, float] | None = None  # inclusive BPM range; high may be inf
    tempo_label: str | None = None
    instruments: tuple[InstrumentTerm, ...] = ()
    # Soft hints: used to rank only when there is no embedding model.
    mood_mode: str | None = None
    texture: str | None = None
    dynamics: tuple[str, ...] = ()
    register: str | None = None
    words: tuple[str, ...] = field(default=(), compare=False)  # every word, lowercased

    @property
    def key_name(self) -> str | None:
        if self.tonic_pc is None:
            return None
        return (
            f"{tonic_name(self.tonic_pc, self.mode or 'major')} {self.mode}"
            if self.mode
            else tonic_name(self.tonic_pc, "major")
        )

    def is_empty(self) -> bool:
        return (
            self.tonic_pc is None
            and self.mode is None
            and self.meter is None
            and not self.tempo
            and not (self.instruments)
        )

    def to_dict(self) -> dict:
        lo_hi = None
        if self.tempo:
            lo_hi = [round(self.tempo[0], 2), None if math.isinf(self.tempo[1]) else round(self.tempo[1], 2)]
        return {
            "key": self.key_name,
            "mode": self.mode,
            "meter": self.meter,
            "tempo": lo_hi,
            "tempo_label": self.tempo_label,
            "instruments": [t.label for t in self.instruments],
            "hints": {
                "mood_mode": self.mood_mode,
                "texture": self.texture,
                "dynamics": list(self.dynamics),
                "register": self.register,
            },
        }


# ---- parsing -------------------------------------------------------------------------------------

_ACC = r"(?:\s*(?:#|♯|b|♭)|[\s-]+(?:sharp|flat))?"
_KEY_WITH_MODE = re.compile(rf"\b([a-g]{_ACC})\s*[\s-]\s*(major|minor|maj|min)\b(\s+key)?", re.IGNORECASE)
_KEY_ALONE = re.compile(rf"\b(?:in|key of)\s+([A-G]{_ACC})(?![\w#♯♭])")  # "in D": capital letter only ("in a ...")
_MODE_ALONE = re.compile(r"\b(major|minor)\b", re.IGNORECASE)
_METER = re.compile(r"\b(\d{1,2})\s*/\s*(\d{1,2})\b")
_BPM_RANGE = re.compile(r"\b(\d{2,3})\s*(?:-|–|to)\s*(\d{2,3})\s*(?:bpm|beats per minute)\b", re.IGNORECASE)
_BPM = re.compile(r"\b(\d{2,3})\s*(?:bpm|beats per minute)\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z][a-z'-]*")


def parse_query(text: str) -> Constraints:
    """Every constraint `text` states. Pure; unknown words are simply ignored."""
    text = text or ""
    lowered = text.lower()
    tonic_pc, mode, rest = _parse_key(text)
    meter, rest = _parse_meter(rest)
    tempo, tempo_label, rest = _parse_tempo(rest)
    instruments = _parse_instruments(rest.lower())
    words = tuple(_WORD.findall(lowered))
    return Constraints(
        tonic_pc=tonic_pc,
        mode=mode,
        meter=meter,
        tempo=tempo,
        tempo_label=tempo_label,
        instruments=instruments,
        mood_mode=next((MOOD_MODES[w] for w in words if w in MOOD_MODES), None),
        texture=next((TEXTURE_WORDS[w] for w in words if w in TEXTURE_WORDS), None),
        dynamics=next((DYNAMICS_WORDS[w] for w in words if w in DYNAMICS_WORDS), ()),
        register=next((REGISTER_WORDS[w] for w in words if w in REGISTER_WORDS), None),
        words=words,
    )


def _parse_key(text: str) -> tuple[int | None, str | None, str]:
    m = _KEY_WITH_MODE.search(text)
    if m:
        mode = "minor" if m.group(2).lower().startswith("min") else "major"
        rest = text[: m.start()] + " " + text[m.end() :]
        # Lowercase "a" is usually the article: "a minor melody", "in a minor key" name a mode only;
        # "in a minor" / "key of a minor" still mean A minor.
        after_in = re.search(r"\b(?:in|of)\s*$", text[: m.start()], re.IGNORECASE) is not None
        if m.group(1) == "a" and (m.group(3) or not after_in):
            return None, mode, rest
        return _pc(m.group(1)), mode, rest
    m = _KEY_ALONE.search(text)
    if m:
        rest = text[: m.start()] + " " + text[m.end() :]
        mode_match = _MODE_ALONE.search(rest)
        return _pc(m.group(1)), mode_match.group(1).lower() if mode_match else None, rest
    m = _MODE_ALONE.search(text)
    if m:
        return None, m.group(1).lower(), text[: m.start()] + " " + text[m.end() :]
    return None, None, text


def _pc(spelled: str) -> int:
    s = re.sub(r"[\s-]+", "", spelled.strip().lower())
    s = s.replace("sharp", "#").replace("flat", "b")
    return parse_pc(s[0].upper() + s[1:])


def _parse_meter(text: str) -> tuple[str | None, str]:
    for m in _METER.finditer(text):
        num, den = int(m.group(1)), int(m.group(2))
        if 1 <= num <= 32 and den in (1, 2, 4, 8, 16, 32):
            return f"{num}/{den}", text[: m.start()] + " " + text[m.end() :]
    lowered = text.lower()
    for phrase, meter in METER_WORDS.items():
        if re.search(rf"\b{re.escape(phrase)}e?s?\b", lowered):
            return meter, text
    return None, text


def _parse_tempo(text: str) -> tuple[tuple[float, float] | None, str | None, str]:
    m = _BPM_RANGE.search(text)
    if m:
        lo, hi = sorted((float(m.group(1)), float(m.group(2))))
        return (lo, hi), f"{lo:g}-{hi:g} BPM", text[: m.start()] + " " + text[m.end() :]
    m = _BPM.search(text)
    if m:
        bpm = float(m.group(1))
        slack = max(4.0, 0.05 * bpm)  # "90 bpm" means about 90
        return (bpm - slack, bpm + slack), f"{bpm:g} BPM", text[: m.start()] + " " + text[m.end() :]
    lowered = text.lower()
    for word, _low in TEMPO_WORDS:
        if re.search(rf"\b{word.lower()}\b", lowered):
            lo, hi = tempo_range(word)
            # tempo_range is [lo, hi); the index compares inclusively, so stop just below hi.
            return (lo, hi - 1e-6 if math.isfinite(hi) else hi), word, text
    for phrase in sorted(ENGLISH_TEMPI, key=len, reverse=True):
        if re.search(rf"\b{re.escape(phrase)}\b", lowered):
            return ENGLISH_TEMPI[phrase], phrase, text
    return None, None, text


def _instrument_vocabulary() -> list[tuple[str, frozenset[int], re.Pattern]]:
    """(phrase, programs), longest phrases first so "electric piano" wins over "piano"."""
    vocab: dict[str, set[int]] = {}
    for program, name in enumerate(GM_PROGRAM_NAMES):
        phrase = re.sub(r"\(.*?\)|\d+", " ", name.lower())
        phrase = " ".join(phrase.replace("-", " ").split())
        if phrase and phrase not in _AMBIGUOUS_NAMES:
            vocab.setdefault(phrase, set()).add(program)
    for block, family in enumerate(GM_FAMILIES):
        if family in ("ensemble", "pipe", "reed", "percussive", "sound effects", "synth effects", "ethnic"):
            continue  # these family names are rarely what a query means by the word
        vocab.setdefault(family, set()).update(range(block * 8, block * 8 + 8))
    for phrase, programs in INSTRUMENT_SYNONYMS.items():
        vocab[phrase] = set(programs)
    ordered = sorted(vocab.items(), key=lambda pv: (-len(pv[0]), pv[0]))
    return [(p, frozenset(v), re.compile(rf"\b{re.escape(p)}(?:e?s)?\b")) for p, v in ordered]


_VOCAB = _instrument_vocabulary()


def _parse_instruments(lowered: str) -> tuple[InstrumentTerm, ...]:
    found: list[InstrumentTerm] = []
    text = lowered.replace("-", " ")
    for phrase, programs, pattern in _VOCAB:
        if phrase[0] in text and pattern.search(text):
            found.append(InstrumentTerm(phrase, programs))
            text = pattern.sub(" ", text)  # "electric piano" must not also count as "piano"
    return tuple(found)


def parse_instrument(word: str) -> InstrumentTerm:
    """The programs an `--instrument` option means; raises ValueError naming a few valid words."""
    terms = _parse_instruments(word.lower())
    if not terms:
        examples = ", ".join(("piano", "violin", "strings", "guitar", "flute", "drums", "choir"))
        raise ValueError(f"unknown instrument {word!r}; use a General MIDI name or family (e.g. {examples})")
    programs = frozenset().union(*(t.programs for t in terms))
    return InstrumentTerm(word.lower(), programs)


def parse_key(text: str) -> tuple[int | None, str | None]:
    """`--key` values: "A minor", "F#", "Bb major", "c# min"; raises ValueError for anything else."""
    cleaned = text.strip()
    m = re.fullmatch(rf"([a-gA-G]{_ACC})(?:\s*[\s-]\s*(major|minor|maj|min|m))?", cleaned)
    if not m:
        raise ValueError(f"not a key: {text!r} (examples: 'A minor', 'F#', 'Bb major')")
    mode = None
    if m.group(2):
        mode = "major" if m.group(2).lower().startswith("maj") else "minor"
    return _pc(m.group(1)), mode


_NOT_A_KEY = re.compile(
    rf"(?:\b(?:in|key of)\s+([h-zH-Z]{_ACC})|\b([H-Z]{_ACC}))\s*[\s-]\s*(major|minor|maj|min)\b")


def invalid_key_mentions(text: str) -> tuple[str, ...]:
    """Spans that look like a key but name no pitch ("in H minor", "X major"): `parse_query` would otherwise
    read only their mode. Lowercase letters count only after "in"/"key of" ("s minor" is rarely a key)."""
    return tuple(m.group(0).strip() for m in _NOT_A_KEY.finditer(text or ""))


def parse_bpm_range(text: str) -> tuple[float, float]:
    """`--tempo` values: "90-110", "100" (= 95-105), or a tempo word ("Andante", "slow")."""
    cleaned = text.strip().lower().removesuffix("bpm").strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(?:-|–|to|\.\.)\s*(\d+(?:\.\d+)?)", cleaned)
    if m:
        lo, hi = sorted((float(m.group(1)), float(m.group(2))))
        return lo, hi
    if re.fullmatch(r"\d+(?:\.\d+)?", cleaned):
        bpm = float(cleaned)
        slack = max(4.0, 0.05 * bpm)
        return bpm - slack, bpm + slack
    tempo, _label, _rest = _parse_tempo(cleaned)
    if tempo is None:
        raise ValueError(f"not a tempo: {text!r} (examples: '90-110', '120', 'Andante', 'slow')")
    return tempo


def parse_meter(text: str) -> str:
    meter, _rest = _parse_meter(text.strip())
    if meter is None:
        raise ValueError(f"not a meter: {text!r} (examples: '3/4', '6/8', 'waltz')")
    return meter
