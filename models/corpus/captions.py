"""Natural-language captions from clip labels: several phrasing families, synonyms and varied word order.

One whole family and a set of synonyms are reserved for the test split (the "held-out phrasing"), so an
evaluation on test captions measures whether a text encoder generalises to wordings it never saw.
Every caption states only facts from the labels; the choice of family, template and synonyms is a
deterministic function of the clip's seed, so rebuilding gives the same captions.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

FAMILIES = ("plain", "tags", "descriptive", "musician", "scene", "request")
HELD_OUT_FAMILY = "request"

# Concept -> (words used in every split, words used only in test captions).
MOOD_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sad": (("sad", "melancholic", "mournful", "wistful"), ("melancholy", "sorrowful")),
    "happy": (("happy", "cheerful", "joyful", "bright"), ("merry", "jubilant")),
    "calm": (("calm", "peaceful", "gentle", "serene"), ("tranquil",)),
    "energetic": (("energetic", "lively", "spirited", "driving"), ("vigorous", "exuberant")),
    "dark": (("dark", "brooding", "tense"), ("sombre",)),
    "solemn": (("solemn", "stately", "dignified", "reverent"), ("majestic",)),
    "tender": (("tender", "warm", "lyrical"), ("heartfelt",)),
    "playful": (("playful", "bouncy", "light-hearted"), ("jaunty",)),
}
SPEED_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "very fast": (("very fast", "rapid", "racing"), ("breakneck",)),
    "fast": (("fast", "quick", "brisk", "up-tempo"), ("speedy",)),
    "moderate": (("moderate", "medium-tempo", "steady"), ("mid-paced",)),
    "slow": (("slow", "unhurried", "relaxed"), ("leisurely",)),
}
# Instrument names as captions say them, with nicknames; the second tuple is test-only.
INSTRUMENT_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "violin": (("violin", "fiddle"), ()),
    "fiddle": (("fiddle", "violin"), ()),
    "piano": (("piano", "acoustic piano"), ("ivories",)),
    "accordion": (("accordion",), ("squeezebox",)),
    "concertina": (("concertina",), ("squeezebox",)),
    "tin whistle": (("tin whistle", "whistle"), ("penny whistle",)),
    "harmonica": (("harmonica",), ("mouth organ",)),
    "choir": (("choir", "voices", "vocal ensemble"), ("chorus",)),
    "church organ": (("church organ", "organ"), ("pipe organ",)),
    "nylon guitar": (("nylon guitar", "classical guitar", "acoustic guitar"), ("six-string",)),
    "string quartet": (("string quartet",), ("quartet of strings",)),
    "double bass": (("double bass", "upright bass"), ("bass fiddle",)),
}
METER_WORDS = {
    "4/4": ("4/4", "common time", "four-four time"), "3/4": ("3/4", "three-four time", "waltz time"),
    "2/4": ("2/4", "two-four time"), "6/8": ("6/8", "six-eight time", "compound duple time"),
    "2/2": ("2/2", "cut time", "alla breve"), "9/8": ("9/8", "nine-eight time"), "3/8": ("3/8", "three-eight time"),
    "12/8": ("12/8", "twelve-eight time"), "3/2": ("3/2", "three-two time"), "4/2": ("4/2", "four-two time"),
    "6/4": ("6/4", "six-four time"),
}
TEXTURE_WORDS = {
    "monophonic": ("a single melodic line", "an unaccompanied melody", "a solo line"),
    "homophonic": ("chordal, hymn-like writing", "block chords under a tune", "a homophonic texture"),
    "polyphonic": ("interweaving contrapuntal voices", "a polyphonic texture", "imitative counterpoint"),
}
REGISTER_WORDS = {"low": ("low", "deep"), "mid": ("middle", "mid-range"), "high": ("high", "bright, high")}
DYNAMICS_WORDS = {"pp": ("very softly", "pianissimo"), "p": ("softly", "quietly"), "mp": ("gently", "moderately soft"),
                  "mf": ("at a moderate volume", "mezzo-forte"), "f": ("loudly", "strongly"),
                  "ff": ("very loudly", "fortissimo")}


def held_out_synonyms() -> list[str]:
    words: set[str] = set()
    for table in (MOOD_WORDS, SPEED_WORDS, INSTRUMENT_WORDS):
        for _train, test in table.values():
            words.update(test)
    return sorted(words)


def speed_of(bpm: float) -> str:
    if bpm >= 170:
        return "very fast"
    if bpm >= 120:
        return "fast"
    if bpm >= 76:
        return "moderate"
    return "slow"


def moods_of(mode: str, bpm: float, register: str, dynamics: str, category: str) -> list[str]:
    """Mood concepts implied by mode, tempo, register and dynamics (at most three, strongest first)."""
    minorish = mode in ("minor", "dorian", "phrygian", "locrian")
    speed = speed_of(bpm)
    moods: list[str] = []
    if minorish:
        moods.append("sad" if speed in ("slow", "moderate") else "dark")
        if speed in ("fast", "very fast"):
            moods.append("energetic")
    else:
        if speed in ("fast", "very fast"):
            moods += ["happy", "energetic"]
        elif speed == "moderate":
            moods.append("playful" if category == "folk" else "happy")
        else:
            moods += ["calm", "tender"]
    if category in ("chorale", "polyphony") and speed in ("slow", "moderate"):
        # Sacred and vocal polyphony reads as solemn; "happy" would misdescribe a major-key mass.
        moods = ["solemn", "sad" if minorish else "calm"]
    if dynamics in ("pp", "p") and "calm" not in moods:
        moods.append("calm")
    if register == "low" and minorish and "dark" not in moods:
        moods.append("dark")
    out: list[str] = []
    for m in moods:
        if m not in out:
            out.append(m)
    return out[:3]


@dataclass(frozen=True)
class CaptionFacts:
    """Everything a caption may say about a clip."""

    key: str  # "D major"
    meter: str  # "6/8"
    bpm: float
    tempo_word: str  # "Allegro"
    instruments: tuple[str, ...]  # caption names, most prominent first ("fiddle", "acoustic bass", "drums")
    lead: str  # the melody/ensemble words ("fiddle", "string quartet")
    genre: str  # "Irish folk tune", "Baroque chorale"
    category: str  # folk | chorale | polyphony | classical
    moods: tuple[str, ...]
    texture: str
    register: str
    dynamics: str
    bars: int
    seconds: float
    dance: str | None = None
    groove: str | None = None  # "bossa nova"
    chords: tuple[str, ...] = field(default=())


class _Words:
    """Synonym choice for one caption; test captions may use the held-out synonyms."""

    def __init__(self, rng: random.Random, allow_held_out: bool):
        self.rng = rng
        self.allow = allow_held_out

    def pick(self, table: dict, concept: str, fallback: str | None = None) -> str:
        if concept not in table:
            return fallback if fallback is not None else concept
        train, test = table[concept]
        if self.allow and test and self.rng.random() < 0.5:
            return self.rng.choice(test)
        return self.rng.choice(train)

    def one(self, options):
        return self.rng.choice(list(options))


def _bpm_text(w: _Words, bpm: float) -> str:
    b = int(round(bpm / 2) * 2)
    return w.one((f"about {b} BPM", f"around {b} bpm", f"{b} BPM", f"roughly {b} beats per minute"))


def _lead_text(w: _Words, facts: CaptionFacts) -> str:
    return w.pick(INSTRUMENT_WORDS, facts.lead)


def _piece_noun(w: _Words, facts: CaptionFacts) -> str:
    if facts.dance:
        return facts.dance
    return facts.genre


def _groove_clause(w: _Words, facts: CaptionFacts) -> str:
    if not facts.groove:
        return ""
    backing = [i for i in facts.instruments if i != facts.lead][:3]
    band = (", ".join(backing[:-1]) + " and " + backing[-1]) if len(backing) > 1 else (backing or ["a band"])[0]
    return w.one((
        f" over a {facts.groove} groove",
        f" with a {facts.groove} backing of {band}",
        f", backed by a {facts.groove} accompaniment ({band})",
    ))


def _performed(lead: str) -> str:
    return "sung by" if lead in ("voice", "choir") else "played by"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _article(word: str) -> str:
    return "an" if re.match(r"[aeiouAEIOU]", word) and not word.lower().startswith(("one", "uni", "eu")) else "a"


def _with_article(phrase: str) -> str:
    return f"{_article(phrase)} {phrase}"


def _chords_text(w: _Words, facts: CaptionFacts) -> str:
    if not facts.chords:
        return ""
    chords = list(facts.chords[:4])
    joined = ", ".join(chords[:-1]) + f" and {chords[-1]}" if len(chords) > 1 else chords[0]
    return w.one((f"built on {joined} chords", f"harmonised with {joined}", f"moving through {' - '.join(chords)}"))


def _plain(w: _Words, f: CaptionFacts) -> str:
    mood = w.pick(MOOD_WORDS, f.moods[0]) if f.moods else w.pick(SPEED_WORDS, speed_of(f.bpm))
    noun = _piece_noun(w, f)
    lead = _lead_text(w, f)
    meter = w.one(METER_WORDS.get(f.meter, (f.meter,)))
    head = f"{_with_article(f'{mood} {noun}')} in {f.key} for {lead}{_groove_clause(w, f)}"
    tails = [meter, _bpm_text(w, f.bpm)]
    w.rng.shuffle(tails)
    return f"{head[0].upper()}{head[1:]}, {tails[0]}, {tails[1]}."


def _tags(w: _Words, f: CaptionFacts) -> str:
    lead = _lead_text(w, f)
    parts = [
        f"{lead} {'tune' if f.category == 'folk' else 'piece'}",
        f.key,
        f"{f.dance} rhythm" if f.dance else f.genre,
        w.pick(SPEED_WORDS, speed_of(f.bpm)),
    ]
    if f.moods:
        parts.append(w.pick(MOOD_WORDS, f.moods[0]))
    if f.groove:
        parts.append(f"{f.groove} groove")
    if w.rng.random() < 0.5:
        parts.append(w.one(METER_WORDS.get(f.meter, (f.meter,))))
    head, rest = parts[0], parts[1:]
    w.rng.shuffle(rest)
    text = ", ".join([head] + rest)
    return text[0].upper() + text[1:] + "."


def _descriptive(w: _Words, f: CaptionFacts) -> str:
    speed = w.pick(SPEED_WORDS, speed_of(f.bpm))
    lead = _lead_text(w, f)
    noun = _piece_noun(w, f)
    first = w.one((
        f"This {speed} {noun} is {_performed(f.lead)} {lead} in {f.key}{_groove_clause(w, f)}.",
        f"Performed on {lead}, this {speed} {noun} sits in {f.key}{_groove_clause(w, f)}.",
        f"{_cap(f.key)} {noun} for {lead}, taken at {_with_article(speed)} pace{_groove_clause(w, f)}.",
    ))
    sentences = [first]
    if f.moods:
        moods = [w.pick(MOOD_WORDS, m) for m in f.moods[:2]]
        sentences.append(w.one((
            f"It has {_with_article(' and '.join(moods))} character",
            f"The mood is {' and '.join(moods)}",
            f"It sounds {' and '.join(moods)}",
        )) + f", in {w.one(METER_WORDS.get(f.meter, (f.meter,)))} at {_bpm_text(w, f.bpm)}.")
    extra = w.one((
        f"It features {w.one(TEXTURE_WORDS.get(f.texture, (f.texture,)))}.",
        f"It lies in a {w.one(REGISTER_WORDS.get(f.register, (f.register,)))} register.",
        f"It is played {w.one(DYNAMICS_WORDS.get(f.dynamics, ('',)))}.",
        f"The excerpt is {f.bars} bars long (about {int(round(f.seconds))} seconds).",
    ))
    sentences.append(extra)
    chords = _chords_text(w, f)
    if chords and w.rng.random() < 0.4:
        sentences.append(f"It is {chords}.")
    return " ".join(sentences)


def _musician(w: _Words, f: CaptionFacts) -> str:
    b = int(round(f.bpm / 2) * 2)
    lead = _lead_text(w, f)
    noun = _piece_noun(w, f)
    head = w.one((f"{f.meter}, {b} bpm, {f.key}:", f"{f.key}, {f.meter} at {b}:", f"In {f.key}, {f.meter}, q={b}:"))
    body = f"{lead} plays {_with_article(noun)}{_groove_clause(w, f)}"
    if f.tempo_word and w.rng.random() < 0.5:
        body += f", {f.tempo_word.lower()}"
    chords = _chords_text(w, f)
    text = f"{head} {body}"
    if chords and w.rng.random() < 0.6:
        text += f"; {chords}"
    return text + "."


def _scene(w: _Words, f: CaptionFacts) -> str:
    mood = w.pick(MOOD_WORDS, f.moods[0]) if f.moods else "simple"
    lead = _lead_text(w, f)
    noun = _piece_noun(w, f)
    speed = w.pick(SPEED_WORDS, speed_of(f.bpm))
    options = (
        f"Something {mood} and {speed}: {_with_article(noun)} on {lead} in {f.key}{_groove_clause(w, f)}.",
        f"Imagine {_with_article(lead)} playing {_with_article(f'{mood} {noun}')} in {f.key}, {speed} and"
        f" {w.one(DYNAMICS_WORDS.get(f.dynamics, ('steady',)))}.",
        f"{_cap(_with_article(f'{mood}, {speed} {noun}'))} in {f.key}, the kind of music {_with_article(lead)}"
        f" might perform at {_bpm_text(w, f.bpm)}{_groove_clause(w, f)}.",
    )
    return w.one(options)


def _request(w: _Words, f: CaptionFacts) -> str:
    mood = w.pick(MOOD_WORDS, f.moods[0]) if f.moods else w.pick(SPEED_WORDS, speed_of(f.bpm))
    lead = _lead_text(w, f)
    noun = _piece_noun(w, f)
    groove = f" with {_with_article(f.groove)} feel" if f.groove else ""
    options = (
        f"Find me {_with_article(f'{mood} {noun}')} on {lead} in {f.key}{groove}, somewhere near {int(f.bpm)} BPM.",
        f"I need {_with_article(mood)} {lead} part in {f.meter}, {f.key}, {noun} style{groove}.",
        f"Could you play something {mood} for {lead}? {f.key[0].upper()}{f.key[1:]}, {f.meter}, {noun}{groove}.",
        f"Looking for {_with_article(noun)} in {f.key} on {lead}{groove}: {mood}, about {int(f.bpm)} bpm.",
    )
    return w.one(options)


_BUILDERS = {
    "plain": _plain, "tags": _tags, "descriptive": _descriptive, "musician": _musician, "scene": _scene,
    "request": _request,
}


def families_for(split: str) -> tuple[str, ...]:
    return FAMILIES if split == "test" else tuple(f for f in FAMILIES if f != HELD_OUT_FAMILY)


def make_captions(facts: CaptionFacts, split: str, seed: str, count: int = 3) -> list[tuple[str, str]]:
    """`count` (family, caption) pairs from distinct families allowed in `split`; the first is primary.

    Test clips lead with the held-out family half the time and may use held-out synonyms anywhere.
    """
    rng = random.Random(seed)
    allowed = list(families_for(split))
    rng.shuffle(allowed)
    if split == "test" and rng.random() < 0.5:
        allowed.remove(HELD_OUT_FAMILY)
        allowed.insert(0, HELD_OUT_FAMILY)
    words = _Words(rng, allow_held_out=split == "test")
    out = []
    for family in allowed[:count]:
        text = re.sub(r"\s+", " ", _BUILDERS[family](words, facts)).strip()
        out.append((family, text))
    return out


def contains_word(text: str, phrase: str) -> bool:
    """Whole-word, case-insensitive match (so "chorus" is not found inside "chorusline")."""
    return re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", text, flags=re.IGNORECASE) is not None
