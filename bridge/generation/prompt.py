"""Text prompt -> generation controls through a small musical vocabulary (no model needed).

"a slow melancholic waltz in D minor" -> D minor, 3/4, 70 BPM. Words outside the vocabulary are returned in
`Controls.unmatched`; `bridge.generation.word_match` then matches them through the retrieval text tower.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace

from bridge.analysis.names import parse_pc, tonic_name
from bridge.generation.vocab import METERS

MINOR_WORDS = ("sad", "melancholic", "melancholy", "dark", "mournful", "gloomy", "tragic", "somber", "sombre",
               "lament", "lamenting", "wistful", "haunting", "sorrowful", "brooding", "minor")
MAJOR_WORDS = ("happy", "bright", "joyful", "cheerful", "uplifting", "triumphant", "sunny", "festive", "major",
               "merry", "playful", "hopeful")
# Dance and form words give a meter and a typical tempo (quarter notes per minute).
STYLE_METER = {"waltz": ("3/4", 96), "minuet": ("3/4", 108), "mazurka": ("3/4", 120), "jig": ("6/8", 108),
               "slip jig": ("9/8", 108), "march": ("2/4", 104), "polka": ("2/4", 120), "reel": ("4/4", 112),
               "hornpipe": ("4/4", 92), "hymn": ("4/4", 76), "chorale": ("4/4", 76), "strathspey": ("4/4", 76),
               "lullaby": ("6/8", 66), "ballad": ("4/4", 72), "air": ("3/4", 66), "barcarolle": ("6/8", 72),
               "anthem": ("4/4", 84), "sarabande": ("3/4", 60), "ländler": ("3/4", 100), "landler": ("3/4", 100),
               "bolero": ("3/4", 72), "foxtrot": ("4/4", 110), "habanera": ("2/4", 80), "galop": ("2/4", 150),
               "tarantella": ("6/8", 170), "gigue": ("6/8", 150), "siciliano": ("6/8", 90),
               "siciliana": ("6/8", 90), "bourrée": ("2/2", 120), "bourree": ("2/2", 120), "gavotte": ("4/4", 100),
               "tango": ("4/4", 120), "two-step": ("2/4", 104), "passepied": ("3/8", 150),
               "courante": ("3/2", 90)}  # fmt: skip
# English tempo words. Italian markings take their BPM from the analysis' tempo bins (one table, below).
TEMPO_WORDS = {"very slow": 56, "very slowly": 54, "slow": 70, "slowly": 70, "medium": 100, "moderate": 111,
               "moderately": 111, "lively": 126, "brisk": 132, "briskly": 132, "fast": 140, "quick": 140,
               "quickly": 140, "very fast": 168, "calm": 72, "gentle": 80, "energetic": 138, "walking pace": 92,
               "at a walk": 92}  # fmt: skip
# Italian markings the analysis table does not name, by the bin they mean.
ITALIAN_ALIASES = {"lento": "Largo", "grave": "Largo", "adagietto": "Adagio", "andantino": "Andante",
                   "allegro moderato": "Moderato", "vivo": "Vivace", "allegro vivace": "Vivace",
                   "prestissimo": "Presto"}


def _italian_bpm() -> dict[str, float]:
    """Each Italian marking at the middle of its bin in `bridge.analysis.tempo.TEMPO_WORDS` (the bins the
    analysis hears a file in), so a piece asked "allegretto" is heard as Allegretto."""
    from bridge.analysis.tempo import TEMPO_WORDS as BINS

    out = {}
    for i, (word, low) in enumerate(BINS):
        high = BINS[i + 1][1] if i + 1 < len(BINS) else low + 16.0
        low = max(low, 40.0)
        out[word.lower()] = float(round((low + high) / 2))
    for alias, word in ITALIAN_ALIASES.items():
        out[alias] = out[word.lower()]
    out["prestissimo"] = out["presto"] + 12
    return out


TEMPO_WORDS = {**TEMPO_WORDS, **_italian_bpm()}  # one dict of tempo words: English, then the Italian bins
DEFAULTS = dict(tonic_pc=0, mode="major", meter="4/4", tempo_bpm=100.0, bars=16)


@dataclass(frozen=True)
class Controls:
    tonic_pc: int = 0
    mode: str = "major"
    meter: str = "4/4"
    tempo_bpm: float = 100.0
    bars: int = 16
    temperature: float = 0.9
    top_p: float = 0.95
    seed: int | None = None
    key_given: bool = False  # the prompt named a tonic (not only a mood)
    meter_given: bool = False  # the prompt stated a meter (a time signature, a meter phrase or a dance)
    tempo_given: bool = False  # the prompt stated a tempo (a metronome mark, a tempo word or a dance)
    matched: tuple[str, ...] = field(default=())
    unmatched: tuple[str, ...] = field(default=())

    @property
    def key_name(self) -> str:
        return f"{tonic_name(self.tonic_pc, self.mode)} {self.mode}"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["key"] = self.key_name
        return d

    def with_(self, **kw) -> Controls:
        return replace(self, **{k: v for k, v in kw.items() if v is not None})


_CHORD_KEY_RE = re.compile(r"\b(?:in\s+)?([A-G])(#|♯|b|♭)?m\b")  # "in Bm", "F#m": chord-symbol spelling, minor

NUMBER_WORDS = {w: i for i, w in enumerate(
    ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
     "seventeen eighteen nineteen twenty").split())}
NUMBER_WORDS.update({"twenty-four": 24, "thirty-two": 32, "forty-eight": 48, "sixty-four": 64, "dozen": 12,
                     "a dozen": 12})
_NUM = r"(\d{1,3}|" + "|".join(sorted((re.escape(w) for w in NUMBER_WORDS), key=len, reverse=True)) + ")"

# Meter phrases musicians write besides a time signature; "three-four" style names are read from the numbers.
METER_PHRASES = {"common time": "4/4", "cut time": "2/2", "cut-time": "2/2", "alla breve": "2/2",
                 "triple time": "3/4", "triple meter": "3/4", "triple metre": "3/4", "waltz time": "3/4",
                 "simple triple": "3/4", "duple time": "2/4", "duple meter": "2/4", "simple duple": "2/4",
                 "quadruple time": "4/4", "compound duple": "6/8", "compound triple": "9/8",
                 "compound quadruple": "12/8"}  # fmt: skip
_BEATS_PER_BAR = {2: "2/4", 3: "3/4", 4: "4/4"}
_DEN_WORDS = {"two": 2, "four": 4, "eight": 8}
_NUMBER_METER = re.compile(r"\b(two|three|four|six|nine|twelve)[\s-](two|four|eight)\b(\s+time)?")
_BEATS_RE = re.compile(rf"\b{_NUM}\s+beats?\s+(?:to|per|in)\s+(?:the|a|each)\s+(?:bar|measure)\b")
_METER_RE = re.compile(r"\b(\d{1,2})\s*/\s*(\d{1,2})\b(\s+time)?")

# Metronome marks: the note that gets the beat, then "=" (or "at"), then the number.
_BEAT_NOTE = {"♩.": 1.5, "q.": 1.5, "dotted quarter": 1.5, "dotted quarter note": 1.5, "dotted crotchet": 1.5,
              "♩": 1.0, "q": 1.0, "quarter": 1.0, "quarter note": 1.0, "crotchet": 1.0, "𝅗𝅥": 2.0,
              "half": 2.0, "half note": 2.0, "minim": 2.0, "eighth": 0.5, "eighth note": 0.5, "quaver": 0.5}
_NOTE_ALT = "|".join(re.escape(k) for k in sorted(_BEAT_NOTE, key=len, reverse=True))
_MARK_RE = re.compile(rf"(?<![\w.])({_NOTE_ALT})\s*(?:=|at|:)?\s*(\d{{2,3}})\b", re.IGNORECASE)
_BPM_RE = re.compile(r"\b(\d{2,3})\s*(?:bpm|beats\s+(?:per|a|an|each)\s+minute|beats/min)\b", re.IGNORECASE)
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
_UNITS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine".split())}
_TEENS = {w: 10 + i for i, w in enumerate("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen "
                                          "nineteen".split())}
_WORD_NUM = (r"(?:(?:a|one|two)\s+hundred(?:\s+and)?\s+)?(?:(?:" + "|".join(_TENS) + r")(?:[\s-](?:"
             + "|".join(_UNITS) + r"))?|" + "|".join(_TEENS) + r")|(?:a|one|two)\s+hundred")
_WORD_BPM_RE = re.compile(rf"\b({_WORD_NUM})\s*(?:bpm|beats\s+(?:per|a|an|each)\s+minute)\b", re.IGNORECASE)


def _word_number(text: str) -> int:
    """"ninety" -> 90, "a hundred and twenty" -> 120, "seventy-two" -> 72."""
    words = re.split(r"[\s-]+", text.lower())
    total = 0
    if "hundred" in words:
        total = 200 if words[0] == "two" else 100
        words = words[words.index("hundred") + 1:]
    for w in words:
        total += _TENS.get(w, 0) + _TEENS.get(w, 0) + _UNITS.get(w, 0)
    return total
_MM_RE = re.compile(r"(?:\bm\.\s?m\.|\bmm\b|\bmetronome(?:\s+marking)?|\btempo(?:\s+of)?|\bat\s+a\s+tempo\s+of)"
                    r"\s*(?:♩\s*=\s*|=\s*|:\s*|at\s+)?(\d{2,3})\b", re.IGNORECASE)
_AT_RE = re.compile(r"\bat\s+(\d{2,3})\b(?!\s*(?:-|bars?|measures?|%))", re.IGNORECASE)
_BARS_RE = re.compile(rf"\b{_NUM}(?:\s+|-)(?:bars?|measures?)\b(?:\s+long)?", re.IGNORECASE)


def _number(word: str) -> int:
    w = word.lower()
    return int(w) if w.isdigit() else NUMBER_WORDS[w]


def _parse_key(text: str) -> tuple[int | None, str | None, str]:
    """(tonic or None, mode or None, the text without the key) through the search parser (`bridge.query`, so
    that search and generate read keys alike: "E-flat minor", "in the key of F sharp", "c# min", "D dorian"),
    plus the chord-symbol spelling "in Bm" that search does not read."""
    from bridge.query import key_in_text as query_key

    # The search parser reads "in D" after a lowercase "in"; a sentence may start with "In D, ...".
    norm = re.sub(r"(?<![\w])(In|IN|Key of|KEY OF)\b", lambda m: m.group(1).lower(), text)
    tonic, mode, rest = query_key(norm)
    if tonic is None:
        m = _CHORD_KEY_RE.search(norm)
        if m:
            return parse_pc(m.group(1) + ({"♯": "#", "♭": "b"}.get(m.group(2), m.group(2) or ""))), "minor", \
                norm[: m.start()] + " " + norm[m.end():]
    return tonic, mode, rest


def _parse_meter(low: str) -> tuple[str | None, str | None]:
    """(meter, the words that said it): a time signature, "three-four time", "three beats to the bar",
    "common time", "alla breve"..."""
    m = _METER_RE.search(low)
    if m and f"{int(m.group(1))}/{int(m.group(2))}" in METERS:
        return f"{int(m.group(1))}/{int(m.group(2))}", m.group(0)
    m = _NUMBER_METER.search(low)
    if m:
        meter = f"{NUMBER_WORDS[m.group(1)]}/{_DEN_WORDS[m.group(2)]}"
        if meter in METERS:
            return meter, m.group(0)
    m = _BEATS_RE.search(low)
    if m and _number(m.group(1)) in _BEATS_PER_BAR:
        return _BEATS_PER_BAR[_number(m.group(1))], m.group(0)
    for phrase, meter in sorted(METER_PHRASES.items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"\b{re.escape(phrase)}\b", low):
            return meter, phrase
    return None, None


def _parse_bpm(text: str) -> tuple[float | None, str | None]:
    """A metronome mark in quarter notes per minute: "96 bpm", "♩ = 96", "dotted quarter = 60" (x1.5),
    "M.M. 120", "tempo 132", "at 112"."""
    m = _MARK_RE.search(text)
    if m:
        return float(m.group(2)) * _BEAT_NOTE[m.group(1).lower()], m.group(0)
    for rx in (_BPM_RE, _MM_RE, _AT_RE):
        m = rx.search(text)
        if m:
            return float(m.group(1)), m.group(0)
    m = _WORD_BPM_RE.search(text)
    if m:
        return float(_word_number(m.group(1))), m.group(0)
    return None, None


def parse_prompt(text: str, base: Controls | None = None) -> Controls:
    """Controls from free text; anything not said keeps `base` (or the defaults)."""
    c = base or Controls()
    low = " " + text.lower() + " "
    matched: list[str] = []
    tonic, mode = c.tonic_pc, None
    k_tonic, k_mode, rest = _parse_key(text)
    key_given = k_tonic is not None
    if key_given:
        tonic = k_tonic
    if k_mode is not None or key_given:
        span = f"{tonic_name(tonic, k_mode or 'major')} {k_mode}" if k_mode else tonic_name(tonic, "major")
        matched.append(span if key_given else k_mode)
        mode = k_mode
    meter, tempo = c.meter, None
    meter_given = tempo_given = False
    for word, (m, bpm) in sorted(STYLE_METER.items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"(?<![\w-]){re.escape(word)}(?:e?s)?(?![\w-])", low):
            meter, tempo = m, float(bpm)
            matched.append(word)
            meter_given = tempo_given = True
            break
    m_meter, m_span = _parse_meter(low)
    if m_meter is not None:
        meter, meter_given = m_meter, True
        matched.append(m_span)
    bpm, bpm_span = _parse_bpm(text)
    if bpm is not None:
        tempo, tempo_given = bpm, True
        matched += [bpm_span] + ([f"{bpm:g} bpm"] if "bpm" not in bpm_span.lower() else [])
    else:
        for word, word_bpm in sorted(TEMPO_WORDS.items(), key=lambda kv: -len(kv[0])):
            if re.search(rf"\b{re.escape(word)}\b", low):
                tempo, tempo_given = float(word_bpm), True
                matched.append(word)
                break
    bars = c.bars
    mbar = _BARS_RE.search(low)
    if mbar:
        bars = _number(mbar.group(1))
        matched.append(mbar.group(0))
    minor_hits = [w for w in MINOR_WORDS if re.search(rf"\b{w}\b", low)]
    major_hits = [w for w in MAJOR_WORDS if re.search(rf"\b{w}\b", low)]
    matched += [w for w in minor_hits + major_hits if w not in matched]
    if mode is None and (minor_hits or major_hits):
        mode = "minor" if len(minor_hits) >= len(major_hits) and minor_hits else "major"
    if mode is None:
        mode = c.mode
    # Instrument words and texture words go to the texture layer, not the tower.
    from bridge.generation.texture import prompt_instrument_words, texture_words

    matched += prompt_instrument_words(text) + texture_words(text)
    matched_words = {w for span in matched for w in re.findall(r"[a-zäöüéè]+", span.lower())}
    stop = {"a", "an", "the", "in", "with", "and", "of", "for", "piece", "tune", "melody", "song", "some", "bars",
            "on", "by", "played", "playing", "plus", "me", "write", "could", "you", "give", "just", "long", "at",
            "time", "to", "is", "it", "please", "make", "that", "over", "under", "solo", "key", "phrase", "bar",
            "measure", "measures", "short", "music", "number", "theme", "sketch", "study", "cue", "miniature", "around",
            "about", "roughly", "approximately", "something"}
    unmatched = tuple(w for w in re.findall(r"[a-zäöüéè]+", rest.lower())
                      if w not in matched_words and w not in stop and not re.search(rf"\b{w}s?\b", " ".join(matched)))
    matched = list(dict.fromkeys(matched))  # a dance is both a meter and a texture word: list it once
    return replace(c, tonic_pc=tonic % 12, mode=mode, meter=meter, tempo_bpm=tempo or c.tempo_bpm, bars=bars,
                   key_given=c.key_given or key_given, meter_given=c.meter_given or meter_given,
                   tempo_given=c.tempo_given or tempo_given, matched=tuple(matched), unmatched=unmatched)


TEMPO_LIMITS = (20.0, 300.0)  # the BPM `generate --tempo` accepts; the prompt is held to the same range


class PromptError(ValueError):
    """A prompt asks for something generation cannot do; str(error) names it and the valid range."""


def check_prompt(text: str) -> None:
    """Raise `PromptError` when the prompt asks for a key, meter or tempo generation cannot honour.

    Read through `bridge.query.parse_query`, the parser search uses, so that search and generate accept and
    reject the same requests: "in H minor" (no such key), "in 5/4" (a meter the models do not know),
    "at 400 bpm" (outside 20-300 BPM)."""
    from bridge.query import invalid_key_mentions, parse_query

    bad_keys = invalid_key_mentions(text)
    if bad_keys:
        raise PromptError(f"{bad_keys[0]!r} names no key: use a letter A-G with # or b (e.g. 'B minor', 'F# major')")
    q = parse_query(text)
    if q.meter is not None and q.meter not in METERS:
        raise PromptError(f"meter {q.meter} is not supported: use one of {', '.join(METERS)}")
    m = re.search(r"\b(\d+(?:\.\d+)?)\s*(?:bpm|beats per minute)\b", text.lower())
    bpm = float(m.group(1)) if m else _parse_bpm(text)[0]
    if bpm is not None:
        lo, hi = TEMPO_LIMITS
        if not lo <= bpm <= hi:
            raise PromptError(f"tempo {bpm:g} BPM is outside {lo:g}-{hi:g} BPM")


def parse_key_option(text: str) -> tuple[int, str | None]:
    """`generate --key` through the search parser: "D minor", "F#", "Bb major"; ValueError for anything else."""
    from bridge.query import parse_key

    tonic, mode = parse_key(text.strip().removeprefix("in ").strip())
    if tonic is None:
        raise ValueError(f"not a key: {text!r} (examples: 'A minor', 'F#', 'Bb major')")
    return tonic, mode
