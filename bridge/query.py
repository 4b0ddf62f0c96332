"""Musical constraints stated in a text query: key, mode, meter, tempo and instruments (pure functions).

"sad piano melody in A minor, 3/4, around 90 bpm" -> key A minor, meter 3/4, tempo 86-94, piano: what the
text states exactly (a key, a meter, a BPM number or an Italian tempo marking, an instrument) is a *constraint*;
the words a musician uses for character ("sad", "lively", "dreamy", "soft", "fast", "melody") are
*preferences*: each maps to what it means musically (sad -> minor, slower, softer) and moves the ranking
without excluding anything (bridge.library.ranking folds both into one score), while the whole text still
goes through the embedding.
The vocabularies (tempo words, GM program names and families, the instrument words, ensembles and musician
families) come from bridge.analysis, so what the parser understands is exactly what the analysis writes into
the index and what generation reads from a prompt.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from bridge.analysis import TEMPO_WORDS, tempo_range
from bridge.analysis.instruments import (
    AMBIGUOUS_GM_NAMES,
    ARRANGING_NAMES,
    DRUM_PROGRAM,
    ENSEMBLES,
    GM_FAMILIES,
    GM_PROGRAM_NAMES,
    INSTRUMENT_SYNONYMS,
    MUSICIAN_FAMILIES,
    without_mood_idioms,
)
from bridge.analysis.names import parse_pc, tonic_name

DRUMS = DRUM_PROGRAM  # the index's "program" for drum-channel notes

# ---- vocabularies --------------------------------------------------------------------------------

# English tempo words (BPM ranges, inclusive); Italian words come from bridge.analysis.TEMPO_WORDS.
ENGLISH_TEMPI: dict[str, tuple[float, float]] = {
    # English words are preferences, not limits ("lively" ranks quicker pieces first, never hides a rag at 100).
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

# Character words -> what they mean musically: (mode, tempo range, dynamics, register, texture); None = says
# nothing. Every field becomes a preference (a bonus in the ranking), never a filter.
_SLOW, _SLOWER, _QUICK, _FAST = (0.0, 80.0), (0.0, 100.0), (104.0, math.inf), (120.0, math.inf)
_SOFT, _LOUD = ("pp", "p", "mp"), ("f", "ff")
MOOD_WORDS: dict[str, tuple[str | None, tuple[float, float] | None, tuple[str, ...], str | None, str | None]] = {
    **dict.fromkeys(("sad", "melancholy", "melancholic", "mournful", "sorrowful", "plaintive", "lament",
                     "lamenting", "tragic", "grieving", "wistful", "heartbroken", "elegiac", "doleful"),
                    ("minor", _SLOWER, _SOFT, None, None)),
    **dict.fromkeys(("dark", "gloomy", "somber", "sombre", "brooding", "ominous", "sinister"),
                    ("minor", _SLOWER, (), "low", None)),
    **dict.fromkeys(("mysterious", "haunting", "eerie", "spooky"), ("minor", _SLOWER, _SOFT, None, None)),
    **dict.fromkeys(("happy", "cheerful", "joyful", "joyous", "sunny", "merry", "playful", "jolly"),
                    ("major", _QUICK, (), None, None)),
    **dict.fromkeys(("bright", "uplifting", "hopeful"), ("major", None, (), None, None)),
    **dict.fromkeys(("triumphant", "heroic", "majestic", "festive", "grand", "stately"),
                    ("major", None, _LOUD, None, None)),
    **dict.fromkeys(("lively", "upbeat", "energetic", "spirited", "bouncy", "driving", "frantic", "jaunty",
                     "sprightly", "rollicking"), (None, _QUICK, (), None, None)),
    **dict.fromkeys(("dreamy", "peaceful", "serene", "tranquil", "calm", "relaxing", "relaxed", "meditative",
                     "lullaby", "gentle", "tender", "intimate", "delicate", "soothing", "reflective",
                     "contemplative", "nostalgic"), (None, _SLOWER, _SOFT, None, None)),
    **dict.fromkeys(("soft", "quiet", "hushed", "subdued"), (None, None, _SOFT, None, None)),
    **dict.fromkeys(("loud", "powerful", "bold", "forceful", "aggressive", "angry", "fierce", "intense"),
                    (None, None, _LOUD, None, None)),
}  # fmt: skip


@dataclass(frozen=True)
class Preference:
    """A soft preference: `kind` is mode | tempo | dynamics | register | texture; `word` the text's word."""

    kind: str
    value: object  # "minor" | (lo, hi) | ("pp", "p") | "low" | "monophonic"
    word: str

    @property
    def label(self) -> str:
        v = self.value
        if self.kind == "tempo":
            lo, hi = v
            said = f"tempo >= {lo:g}" if math.isinf(hi) else (f"tempo <= {hi:g}" if lo <= 0 else f"tempo {lo:g}-{hi:g}")
        elif self.kind == "dynamics":
            said = "dynamics " + "/".join(v)
        else:
            said = f"{self.kind} {v}"
        return f"prefers {said} ({self.word})"


@dataclass(frozen=True)
class InstrumentTerm:
    label: str  # the words that matched: "violin", "strings"
    programs: frozenset[int]  # exactly what the words name
    family: frozenset[int] = frozenset()  # the musician's fallback (programs excluded); empty: none
    family_name: str | None = None  # "keyboards"


@dataclass(frozen=True)
class Constraints:
    """What a text says about the music; `None`/empty means the text does not say."""

    tonic_pc: int | None = None
    mode: str | None = None
    meter: str | None = None
    tempo: tuple[float, float] | None = None  # inclusive BPM range; high may be inf
    tempo_label: str | None = None
    instruments: tuple[InstrumentTerm, ...] = ()
    # Soft hints (the first of each; `preferences` holds them all as ranking bonuses).
    mood_mode: str | None = None
    texture: str | None = None
    dynamics: tuple[str, ...] = ()
    register: str | None = None
    words: tuple[str, ...] = field(default=(), compare=False)  # every word, lowercased
    preferences: tuple[Preference, ...] = ()

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
            "instrument_families": {t.label: t.family_name for t in self.instruments if t.family_name},
            "hints": {
                "mood_mode": self.mood_mode,
                "texture": self.texture,
                "dynamics": list(self.dynamics),
                "register": self.register,
            },
            "preferences": [p.label for p in self.preferences],
        }


# ---- parsing -------------------------------------------------------------------------------------

_ACC = r"(?:\s*(?:#|♯|b|♭)|[\s-]+(?:sharp|flat))?"
# Church modes name a tonic and a scale the index (major/minor only) files under the nearer of the two:
# D dorian -> a D tonic with a minor third, G mixolydian -> G with a major third.
CHURCH_MODES = {"dorian": "minor", "phrygian": "minor", "aeolian": "minor", "locrian": "minor",
                "mixolydian": "major", "lydian": "major", "ionian": "major"}
_MODE_WORDS = "major|minor|maj|min|" + "|".join(CHURCH_MODES)
_KEY_WITH_MODE = re.compile(rf"\b([a-g]{_ACC})\s*[\s-]\s*({_MODE_WORDS})\b(\s+key)?", re.IGNORECASE)
_KEY_ALONE = re.compile(rf"\b(?:in|key of)\s+([A-G]{_ACC})(?![\w#♯♭])")  # "in D": capital letter only ("in a ...")
_MODE_ALONE = re.compile(rf"\b(major|minor|{'|'.join(CHURCH_MODES)})\b", re.IGNORECASE)
_METER = re.compile(r"\b(\d{1,2})\s*/\s*(\d{1,2})\b")
_BPM_RANGE = re.compile(r"\b(\d{2,3})\s*(?:-|–|to)\s*(\d{2,3})\s*(?:bpm|beats per minute)\b", re.IGNORECASE)
_BPM = re.compile(r"\b(\d{2,3})\s*(?:bpm|beats per minute)\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z][a-z'-]*")


def parse_query(text: str) -> Constraints:
    """Every constraint `text` states. Pure; unknown words are simply ignored."""
    text = text or ""
    lowered = text.lower()
    tonic_pc, mode, rest = key_in_text(text)
    meter, rest = _parse_meter(rest)
    tempo, tempo_label, rest = _parse_tempo(rest, english=False)
    soft_tempo, soft_tempo_word, _ = _parse_tempo(rest, italian=False) if tempo is None else (None, None, rest)
    instruments = _parse_instruments(rest.lower())
    words = tuple(_WORD.findall(lowered))
    prefs = _preferences(words, soft_tempo, soft_tempo_word, mode)
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
        preferences=prefs,
    )


def _preferences(words: tuple[str, ...], tempo, tempo_word: str | None, stated_mode: str | None) -> tuple:
    """One preference per kind, from the first word that says it; a stated mode or tempo leaves no preference
    of that kind (the constraint already says it)."""
    found: dict[str, Preference] = {}
    if tempo is not None:
        found["tempo"] = Preference("tempo", tempo, tempo_word)
    for w in words:
        if w in MOOD_WORDS:
            mode, bpm, dyn, register, texture = MOOD_WORDS[w]
            for kind, value in (("mode", mode), ("tempo", bpm), ("dynamics", dyn), ("register", register),
                                ("texture", texture)):
                if value and kind not in found:
                    found[kind] = Preference(kind, value, w)
        elif w in TEXTURE_WORDS and "texture" not in found:
            found["texture"] = Preference("texture", TEXTURE_WORDS[w], w)
        elif w in REGISTER_WORDS and "register" not in found:
            found["register"] = Preference("register", REGISTER_WORDS[w], w)
    if stated_mode is not None:
        found.pop("mode", None)
    return tuple(found[k] for k in ("mode", "tempo", "dynamics", "register", "texture") if k in found)


def key_in_text(text: str) -> tuple[int | None, str | None, str]:
    m = _KEY_WITH_MODE.search(text)
    if m:
        word = m.group(2).lower()
        mode = CHURCH_MODES.get(word) or ("minor" if word.startswith("min") else "major")
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
        return _pc(m.group(1)), _mode_of(mode_match.group(1)) if mode_match else None, rest
    m = _MODE_ALONE.search(text)
    if m:
        return None, _mode_of(m.group(1)), text[: m.start()] + " " + text[m.end() :]
    return None, None, text


def _mode_of(word: str) -> str:
    word = word.lower()
    return CHURCH_MODES.get(word, word)


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


def _parse_tempo(text: str, italian: bool = True, english: bool = True
                 ) -> tuple[tuple[float, float] | None, str | None, str]:
    """BPM numbers and Italian markings (`italian`) state a tempo; English words (`english`) ask for one."""
    if not italian:
        lowered = text.lower()
        for phrase in sorted(ENGLISH_TEMPI, key=len, reverse=True):
            if re.search(rf"\b{re.escape(phrase)}\b", lowered):
                return ENGLISH_TEMPI[phrase], phrase, text
        return None, None, text
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
    if english:
        return _parse_tempo(text, italian=False)
    return None, None, text


def _instrument_vocabulary() -> list[tuple[str, frozenset[int], frozenset[int], str | None, re.Pattern]]:
    """(label, programs, family, family name, pattern), longest phrases first so "electric piano" wins over
    "piano" and "bass guitar" over "bass"."""
    vocab: dict[str, set[int]] = {}
    for program, name in enumerate(GM_PROGRAM_NAMES):
        phrase = _phrase(re.sub(r"\(.*?\)|\d+", " ", name.lower()))
        if phrase and phrase not in AMBIGUOUS_GM_NAMES:
            vocab.setdefault(phrase, set()).add(program)
    for block, family in enumerate(GM_FAMILIES):
        if family in ("ensemble", "pipe", "reed", "percussive", "sound effects", "synth effects", "ethnic"):
            continue  # these family names are rarely what a query means by the word
        vocab.setdefault(family, set()).update(range(block * 8, block * 8 + 8))
    for phrase, programs in INSTRUMENT_SYNONYMS.items():
        vocab[phrase] = set(programs)
    labels = {}  # the table's spelling ("steel-string guitar"), as generation labels it
    # An arranging name narrower than a GM name ("slap bass" is Slap Bass 1 only) would hide the other program.
    for words, program in ARRANGING_NAMES.items():
        if _phrase(words) not in vocab:
            vocab[_phrase(words)], labels[_phrase(words)] = {program}, words
    ensembles = {_phrase(words) for words in ENSEMBLES}
    for words, line_up in ENSEMBLES.items():
        vocab[_phrase(words)], labels[_phrase(words)] = set(line_up), words
    out = []
    for phrase, programs in sorted(vocab.items(), key=lambda pv: (-len(pv[0]), pv[0])):
        progs = frozenset(programs)
        family, family_name = _family_of(progs, whole=phrase in ensembles)
        pattern = re.compile(rf"\b{re.escape(phrase)}(?:e?s)?\b")
        out.append((labels.get(phrase, phrase), progs, family, family_name, pattern))
    return out


def _phrase(words: str) -> str:
    """A vocabulary phrase as `_parse_instruments` sees the text: lowercase, hyphens read as spaces."""
    return " ".join(words.lower().replace("-", " ").split())


def _family_of(programs: frozenset[int], whole: bool = False) -> tuple[frozenset[int], str | None]:
    """The musician family holding most of `programs`, less `programs`; (empty, None) when it adds nothing.
    `whole`: only a family holding every program (a mixed line-up like a jazz trio has none to fall back to)."""
    best = max(MUSICIAN_FAMILIES.items(), key=lambda kv: (len(kv[1] & programs), -len(kv[1])))
    name, members = best
    extra = members - programs
    if not (members & programs) or not extra or (whole and not programs <= members):
        return frozenset(), None
    return frozenset(extra), name


_VOCAB = _instrument_vocabulary()


def _parse_instruments(lowered: str) -> tuple[InstrumentTerm, ...]:
    found: list[InstrumentTerm] = []
    text = without_mood_idioms(lowered).replace("-", " ")
    for label, programs, family, family_name, pattern in _VOCAB:
        if label[0] in text and pattern.search(text):
            found.append(InstrumentTerm(label, programs, family, family_name))
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
