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
# Dance and form words give a meter and a typical tempo.
STYLE_METER = {"waltz": ("3/4", 96), "minuet": ("3/4", 108), "mazurka": ("3/4", 120), "jig": ("6/8", 108),
               "slip jig": ("9/8", 108), "march": ("2/4", 104), "polka": ("2/4", 120), "reel": ("4/4", 112),
               "hornpipe": ("4/4", 92), "hymn": ("4/4", 76), "chorale": ("4/4", 76), "strathspey": ("4/4", 76),
               "lullaby": ("6/8", 66), "ballad": ("4/4", 72), "air": ("3/4", 66), "barcarolle": ("6/8", 72),
               "anthem": ("4/4", 84)}
TEMPO_WORDS = {"very slow": 56, "largo": 50, "adagio": 66, "slow": 70, "andante": 88, "moderato": 108,
               "medium": 100, "allegro": 132, "lively": 126, "brisk": 132, "fast": 140, "quick": 140,
               "presto": 168, "very fast": 168, "calm": 72, "gentle": 80, "energetic": 138}
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


_KEY_RE = re.compile(
    r"\b(?:in\s+)?([A-Ga-g])\s*(#|♯|b|♭|-?sharp|-?flat)?\s*(major|minor|maj|min|m)\b|\bin\s+([A-G])(#|b)?\b",
)


def _parse_key(text: str) -> tuple[int, str | None, str] | None:
    for m in _KEY_RE.finditer(text):
        if m.group(1):
            letter, acc, mode = m.group(1), m.group(2) or "", m.group(3)
            # A bare lowercase letter is an article ("a minor change") unless "in" precedes it.
            if letter.islower() and not m.group(0).lower().startswith("in"):
                continue
            acc = "#" if acc in ("#", "♯") or "sharp" in acc else "b" if acc else ""
            mode_name = "minor" if mode.lower() in ("minor", "min", "m") else "major"
            if mode == "m" and letter.islower():
                continue
            return parse_pc(letter.upper() + acc), mode_name, m.group(0).strip()
        letter, acc = m.group(4), m.group(5) or ""
        return parse_pc(letter + acc), None, m.group(0).strip()
    return None


def parse_prompt(text: str, base: Controls | None = None) -> Controls:
    """Controls from free text; anything not said keeps `base` (or the defaults)."""
    c = base or Controls()
    low = " " + text.lower() + " "
    matched: list[str] = []
    tonic, mode = c.tonic_pc, None
    k = _parse_key(text)
    rest = text
    if k:
        tonic, mode, span = k
        matched.append(span)
        rest = rest.replace(span, " ")
    meter, tempo = c.meter, None
    for word, (m, bpm) in sorted(STYLE_METER.items(), key=lambda kv: -len(kv[0])):
        if f" {word} " in low or f" {word}s " in low or f" {word}," in low:
            meter, tempo = m, float(bpm)
            matched.append(word)
            break
    mm = re.search(r"\b(2/4|3/4|4/4|2/2|3/2|6/8|9/8|12/8|3/8|6/4)\b", text)
    if mm and mm.group(1) in METERS:
        meter = mm.group(1)
        matched.append(mm.group(1))
    for word, bpm in sorted(TEMPO_WORDS.items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"\b{word}\b", low):
            tempo = float(bpm)
            matched.append(word)
            break
    mb = re.search(r"\b(\d{2,3})\s*bpm\b", low)
    if mb:
        tempo = float(mb.group(1))
        matched.append(mb.group(0))
    bars = c.bars
    mbar = re.search(r"\b(\d{1,3})\s*(?:bars|measures)\b", low)
    if mbar:
        bars = int(mbar.group(1))
        matched.append(mbar.group(0))
    minor_hits = [w for w in MINOR_WORDS if re.search(rf"\b{w}\b", low)]
    major_hits = [w for w in MAJOR_WORDS if re.search(rf"\b{w}\b", low)]
    matched += minor_hits + major_hits
    if mode is None and (minor_hits or major_hits):
        mode = "minor" if len(minor_hits) >= len(major_hits) and minor_hits else "major"
    if mode is None:
        mode = c.mode
    # Instrument words (read by the search parser) and texture words go to the texture layer, not the tower.
    from bridge.generation.texture import texture_words
    from bridge.query import parse_query

    matched += [t.label for t in parse_query(text).instruments] + texture_words(text)
    matched_words = {w for span in matched for w in span.lower().split()}
    stop = {"a", "an", "the", "in", "with", "and", "of", "for", "piece", "tune", "melody", "song", "some", "bars",
            "on", "by", "played", "playing", "plus"}
    unmatched = tuple(w for w in re.findall(r"[a-z]+", rest.lower())
                      if w not in matched_words and w not in stop and not re.search(rf"\b{w}s?\b", " ".join(matched)))
    return replace(c, tonic_pc=tonic % 12, mode=mode, meter=meter, tempo_bpm=tempo or c.tempo_bpm, bars=bars,
                   key_given=c.key_given or k is not None, matched=tuple(matched), unmatched=unmatched)


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
    if m:
        bpm = float(m.group(1))
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
