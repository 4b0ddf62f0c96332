"""Held-out prompts for the text-control table of `midibridge eval generation --control`.

Written the way musicians ask for music, in words the training data and the prompt vocabulary were not built
from: key spellings ("E-flat minor", "in the key of F sharp", "c# min"), meter phrases ("three beats to the
bar", "alla breve", "six-eight", dance forms such as sarabande or tarantella), tempo as a metronome mark
("♩ = 96", "M.M. 120", "dotted quarter = 60") or an Italian/English marking, instruments by ensemble or
instrument name ("string quartet", "nylon-string guitar", "Rhodes") and the length in words ("eight
measures", "a 6-bar phrase"). Each prompt carries what a musician means by it (the ground truth); the table
scores the generated MIDI against it through `bridge.analysis`, never against the parsed request.

The prompts are assembled deterministically from phrase lists (so 240 prompts cover all 24 keys ten times,
every meter of the vocabulary and every tempo bin) plus a set written out whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bridge.analysis.names import tonic_name

DRUMS = 128  # General MIDI drum kit, as in bridge.query


@dataclass(frozen=True)
class ControlPrompt:
    text: str
    tonic_pc: int
    mode: str
    meter: str
    bpm: float | None = None  # a metronome mark (quarter notes per minute)
    tempo_word: str | None = None  # or the analysis tempo bin a marking means (bridge.analysis.tempo.TEMPO_WORDS)
    bars: int = 8
    instruments: tuple[tuple[str, frozenset[int]], ...] = field(default=())  # (label, GM programs that count)

    def to_dict(self) -> dict:
        return {"text": self.text, "key": f"{tonic_name(self.tonic_pc, self.mode)} {self.mode}", "meter": self.meter,
                "bpm": self.bpm, "tempo_word": self.tempo_word, "bars": self.bars,
                "instruments": [label for label, _ in self.instruments]}


def _i(label: str, *programs: int) -> tuple[str, frozenset[int]]:
    return label, frozenset(programs)


PIANO = range(0, 4)
GUITAR = range(24, 32)
BOWED = (40, 41, 42, 43, 44, 45, 48, 49, 50, 51)

# ---------------------------------------------------------------- phrase lists

_FLAT_WORD = {"b": " flat", "#": " sharp"}


def key_phrase(pc: int, mode: str, variant: int) -> str:
    """The key as musicians write it, in one of eight spellings."""
    name = tonic_name(pc, mode)  # "Eb", "F#", "C"
    letter, acc = name[0], name[1:]
    word = letter + _FLAT_WORD.get(acc, "")  # "E flat"
    hyphen = letter + ("-" + _FLAT_WORD[acc].strip() if acc else "")  # "E-flat"
    glyph = letter + {"b": "♭", "#": "♯", "": ""}[acc]
    v = variant % 8
    if v == 0:
        return f"in {word} {mode}"
    if v == 1:
        return f"in {hyphen} {mode}"
    if v == 2:
        return f"in the key of {name} {mode}"
    if v == 3:
        return f"in {name} {'min' if mode == 'minor' else 'maj'}"
    if v == 4:
        return f"in {glyph} {mode}"
    if v == 5:
        return f"in {name}m" if mode == "minor" else f"in {name}"
    if v == 6:
        return f"in {name.lower()} {mode}"
    return f"key of {word} {mode}"


# (meter, phrase, piece noun or None): a dance form names the piece and its meter at once.
METER_PHRASES: tuple[tuple[str, str, str | None], ...] = (
    ("3/4", "in three-four time", None), ("3/4", "with three beats to the bar", None),
    ("3/4", "in triple time", None), ("3/4", "", "sarabande"), ("3/4", "", "ländler"), ("3/4", "in 3/4", None),
    ("3/4", "", "minuet"), ("3/4", "in waltz time", None), ("3/4", "", "mazurka"), ("3/4", "", "bolero"),
    ("4/4", "in common time", None), ("4/4", "in four-four", None), ("4/4", "with four beats to the bar", None),
    ("4/4", "in 4/4 time", None), ("4/4", "", "foxtrot"), ("4/4", "", "hornpipe"),
    ("2/4", "in two-four time", None), ("2/4", "in 2/4", None), ("2/4", "", "habanera"), ("2/4", "", "galop"),
    ("2/4", "", "polka"), ("2/4", "with two beats to the bar", None),
    ("2/2", "in cut time", None), ("2/2", "alla breve", None), ("2/2", "in 2/2", None), ("2/2", "", "bourrée"),
    ("6/8", "in six-eight", None), ("6/8", "in 6/8 time", None), ("6/8", "", "tarantella"), ("6/8", "", "gigue"),
    ("6/8", "in compound duple time", None), ("6/8", "", "siciliano"),
    ("9/8", "in nine-eight time", None), ("9/8", "in 9/8", None), ("9/8", "", "slip jig"),
    ("12/8", "in twelve-eight", None), ("12/8", "in 12/8 time", None),
    ("3/8", "in three-eight time", None), ("3/8", "in 3/8", None),
    ("3/2", "in three-two time", None), ("3/2", "in 3/2", None),
    ("6/4", "in six-four time", None), ("6/4", "in 6/4", None),
)  # fmt: skip

# Tempo: (phrase with {n} for a metronome mark, or a marking) -> bpm or analysis tempo bin.
BPM_PHRASES = ("at {n} bpm", "♩ = {n}", "♩={n}", "quarter note = {n}", "q = {n}", "at {n} beats per minute",
               "around {n} bpm", "M.M. {n}", "tempo {n}", "at a tempo of {n} bpm", "{n} BPM", "metronome {n}")
BPMS = (48, 56, 63, 69, 72, 80, 88, 96, 104, 110, 116, 126, 138, 150, 160, 170, 184, 200)
TEMPO_MARKINGS: tuple[tuple[str, str], ...] = (
    ("adagio", "Adagio"), ("andante", "Andante"), ("allegretto", "Allegretto"), ("allegro", "Allegro"),
    ("moderato", "Moderato"), ("larghetto", "Larghetto"), ("largo", "Largo"), ("lento", "Largo"),
    ("vivace", "Vivace"), ("presto", "Presto"), ("andantino", "Andante"), ("at a walking pace", "Andante"),
    ("slowly", "Adagio"), ("very slowly", "Largo"), ("at a moderate tempo", "Moderato"), ("fast", "Allegro"),
    ("quickly", "Allegro"), ("prestissimo", "Presto"),
)  # fmt: skip

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight")
# (as a noun phrase, as an adjective before the piece)
LENGTH_PHRASES = (("{n} bars", "a {n}-bar"), ("{w} bars", "a {w}-bar"), ("{n} measures", "a {n}-measure"),
                  ("{w} measures", "a {w}-measure"), ("a {n}-bar phrase", "a {n}-bar"),
                  ("just {w} measures", "a short {w}-bar"), ("{w} bars long", "a {n}-bar"))

INSTRUMENTS: tuple[tuple[str, tuple[tuple[str, frozenset[int]], ...]], ...] = (
    ("for solo violin", (_i("violin", 40),)),
    ("for fiddle and guitar", (_i("fiddle", 40, 110), _i("guitar", *GUITAR))),
    ("on nylon-string guitar", (_i("nylon-string guitar", 24),)),
    ("for string quartet", (_i("violin", 40), _i("viola", 41), _i("cello", 42))),
    ("for piano trio", (_i("piano", *PIANO), _i("violin", 40), _i("cello", 42))),
    ("for brass quintet", (_i("trumpet", 56), _i("horn", 60), _i("trombone", 57), _i("tuba", 58))),
    ("for Rhodes and upright bass", (_i("Rhodes", 4), _i("upright bass", 32, 43))),
    ("on the church organ", (_i("church organ", 19),)),
    ("for harpsichord", (_i("harpsichord", 6),)),
    ("for oboe and harp", (_i("oboe", 68), _i("harp", 46))),
    ("for clarinet and bassoon", (_i("clarinet", 71), _i("bassoon", 70))),
    ("for jazz trio", (_i("piano", *PIANO), _i("double bass", 32, 43), _i("drums", DRUMS))),
    ("on accordion", (_i("accordion", 21),)),
    ("for flute and cello", (_i("flute", 73), _i("cello", 42))),
    ("for tenor sax with piano, bass and drums",
     (_i("tenor sax", 66), _i("piano", *PIANO), _i("bass", *range(32, 40), 43), _i("drums", DRUMS))),
    ("for vibraphone and double bass", (_i("vibraphone", 11), _i("double bass", 32, 43))),
    ("on steel-string guitar", (_i("steel-string guitar", 25),)),
    ("for strings and harp", (_i("strings", *BOWED), _i("harp", 46))),
    ("for choir", (_i("choir", 52, 53, 54),)),
    ("for trumpet and organ", (_i("trumpet", 56), _i("organ", *range(16, 24)))),
    ("for viola and piano", (_i("viola", 41), _i("piano", *PIANO))),
    ("for marimba", (_i("marimba", 12),)),
    ("on banjo and fiddle", (_i("banjo", 105), _i("fiddle", 40, 110))),
    ("for French horn and strings", (_i("French horn", 60), _i("strings", *BOWED))),
    ("for tin whistle and bodhrán", (_i("tin whistle", 78), _i("bodhrán", DRUMS, 116, 117))),
    ("on electric guitar, bass guitar and a drum kit",
     (_i("electric guitar", 26, 27, 28, 29, 30, 31), _i("bass guitar", 33, 34, 35, 36, 37), _i("drum kit", DRUMS))),
    ("for recorder and guitar", (_i("recorder", 74), _i("guitar", *GUITAR))),
    ("for wind quintet", (_i("flute", 73), _i("oboe", 68), _i("clarinet", 71), _i("horn", 60), _i("bassoon", 70))),
    ("on the harmonica", (_i("harmonica", 22),)),
    ("for celesta and strings", (_i("celesta", 8), _i("strings", *BOWED))),
    ("for alto saxophone and piano", (_i("alto sax", 65), _i("piano", *PIANO))),
    ("on the bagpipes", (_i("bagpipes", 109),)),
    ("for piccolo and snare drum", (_i("piccolo", 72), _i("snare drum", DRUMS))),
    ("for sitar", (_i("sitar", 104),)),
    ("for cello and piano", (_i("cello", 42), _i("piano", *PIANO))),
    ("for pan flute", (_i("pan flute", 75),)),
    ("", ()),  # no instrument named: adherence not scored
)  # fmt: skip

NOUNS = ("piece", "tune", "theme", "sketch", "miniature", "study", "melody", "cue")
MOODS = {"minor": ("brooding", "plaintive", "wistful", "stormy", "grieving", "", ""),
         "major": ("sunny", "carefree", "jaunty", "serene", "stately", "", "")}

TEMPLATES = (
    "{A}{mood}{noun} {key} {meter}, {tempo}, {inst}, {LN}",
    "Write me {LA} {mood}{noun} {key} {inst}; {meter}, {tempo}",
    "{Key}, {meter}, {tempo}: {a}{mood}{noun} {inst}, {LN}",
    "Could you give me {LA} {mood}{noun} {inst} {key}? {Meter}, {tempo}.",
    "{LN_of} {a}{mood}{noun} {inst} {key}, {tempo}, {meter}",
    "{A}{mood}{noun} {inst} - {key}, {meter}, {tempo} - {LN}",
)


def _article(phrase: str) -> str:
    """"a " or "an " before `phrase` ("an 8-bar", "an eight-bar", "an oboe")."""
    first = phrase.split(" ")[0].split("-")[0].lower()
    return "an " if first[:1] in "aeiou" or first in ("8", "11", "18") else "a "


def assembled_prompts(n: int = 240) -> list[ControlPrompt]:
    """`n` prompts from the phrase lists: key i % 24 (major and minor alternate, tonics round the circle of
    fifths), and for meter, tempo, instruments, length and template steps co-prime to one another."""
    out = []
    for i in range(n):
        k = i % 24
        mode = ("major", "minor")[k % 2]
        pc = (7 * (k // 2) + (9 if mode == "minor" else 0)) % 12
        key = key_phrase(pc, mode, i // 3 + i)
        meter, meter_text, dance = METER_PHRASES[(i * 7) % len(METER_PHRASES)]
        if i % 3 == 0:
            n_bpm = BPMS[(i * 5) % len(BPMS)]
            tempo = BPM_PHRASES[(i // 3) % len(BPM_PHRASES)].format(n=n_bpm)
            bpm, tword = float(n_bpm), None
            if meter in ("6/8", "9/8", "12/8") and i % 2 == 0:
                # A compound meter's beat is the dotted quarter: musicians mark it so.
                dotted = round(n_bpm / 1.5)
                tempo, bpm = f"dotted quarter = {dotted}", dotted * 1.5
        elif i % 3 == 1:
            n_bpm = BPMS[(i * 11) % len(BPMS)]
            tempo = BPM_PHRASES[(i * 5) % len(BPM_PHRASES)].format(n=n_bpm)
            bpm, tword = float(n_bpm), None
        else:
            tempo, tword = TEMPO_MARKINGS[(i // 3) % len(TEMPO_MARKINGS)]
            bpm = None
        inst_text, inst = INSTRUMENTS[(i * 5) % len(INSTRUMENTS)]
        bars = 4 + (i * 3) % 5  # 4..8
        ln, la = LENGTH_PHRASES[(i * 3) % len(LENGTH_PHRASES)]
        w = NUMBER_WORDS[bars]
        ln, la = ln.format(n=bars, w=w), la.format(n=bars, w=w)
        la = _article(la[2:]) + la[2:]
        ln = _article(ln[2:]) + ln[2:] if ln.startswith("a ") else ln
        ln_of = ln.removesuffix(" long") + " of"
        mood = MOODS[mode][(i // 2) % len(MOODS[mode])]
        noun = dance or NOUNS[i % len(NOUNS)]
        mood_s = f"{mood} " if mood else ""
        template = TEMPLATES[(i * 5 + i // 6) % len(TEMPLATES)]
        a = _article(mood_s + noun)
        text = template.format(
            A=a.capitalize(), a=a, mood=mood_s, noun=noun, key=key, Key=key[0].upper() + key[1:], meter=meter_text,
            Meter=(meter_text[:1].upper() + meter_text[1:]) if meter_text else "", tempo=tempo, inst=inst_text,
            LN=ln, LA=la, LN_of=ln_of[0].upper() + ln_of[1:])
        text = _tidy(text)
        out.append(ControlPrompt(text, pc, mode, meter, bpm, tword, bars, inst))
    return out


def _tidy(text: str) -> str:
    import re

    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,;:?.])", r"\1", text)
    text = re.sub(r"\?,", "?", text)
    text = re.sub(r"([,;:])\s*(?=[,;:.?])", "", text)
    text = re.sub(r"^[,;: -]+|[,;: -]+$", "", text)
    text = re.sub(r"- -", "-", text)
    text = re.sub(r",\s*,", ",", text)
    text = re.sub(r"\?[,\s]*\.?$", "?", text)
    text = re.sub(r"\?[,\s]+(\w)", lambda m: "? " + m.group(1).upper(), text)
    return text.strip()


# Written out whole: requests as they come, with the truth a musician would read in them.
HANDWRITTEN: tuple[ControlPrompt, ...] = (
    ControlPrompt("A gentle lullaby in A-flat major, six-eight, dotted quarter = 52, for celesta and harp, 8 bars",
                  8, "major", "6/8", 78.0, None, 8, (_i("celesta", 8), _i("harp", 46))),
    ControlPrompt("Dark tango-ish number in F minor, four beats to a bar, ♩ = 120, accordion and double bass, "
                  "eight measures", 5, "minor", "4/4", 120.0, None, 8,
                  (_i("accordion", 21), _i("double bass", 32, 43))),
    ControlPrompt("Solemn processional in D major for brass and organ, 3/2, larghetto, six bars",
                  2, "major", "3/2", None, "Larghetto", 6, (_i("brass", *range(56, 64)), _i("organ", *range(16, 24)))),
    ControlPrompt("Slip jig in E minor, nine-eight, tin whistle over guitar, 144 bpm, 8 bars",
                  4, "minor", "9/8", 144.0, None, 8, (_i("tin whistle", 78), _i("guitar", *GUITAR))),
    ControlPrompt("Bossa-style sketch in G, 4/4, 132 bpm, nylon guitar, flute and brushes, seven bars",
                  7, "major", "4/4", 132.0, None, 7, (_i("nylon guitar", 24), _i("flute", 73), _i("brushes", DRUMS))),
    ControlPrompt("Baroque gigue in B minor for harpsichord and cello, 6/8, presto, eight bars",
                  11, "minor", "6/8", None, "Presto", 8, (_i("harpsichord", 6), _i("cello", 42))),
    ControlPrompt("Hymn tune in E flat for SATB choir, common time, ♩ = 72, eight measures",
                  3, "major", "4/4", 72.0, None, 8, (_i("choir", 52, 53, 54),)),
    ControlPrompt("Cinematic cue in C sharp minor, 12/8, ♩. = 50, for strings and French horn, 6 bars",
                  1, "minor", "12/8", 75.0, None, 6, (_i("strings", *BOWED), _i("French horn", 60))),
    ControlPrompt("Music-box waltz in D, 3/4, allegretto, glockenspiel and music box, four bars",
                  2, "major", "3/4", None, "Allegretto", 4, (_i("glockenspiel", 9), _i("music box", 10))),
    ControlPrompt("Country two-step in A major, 2/4, 104 beats per minute, fiddle, steel guitar and upright bass, "
                  "8 bars", 9, "major", "2/4", 104.0, None, 8,
                  (_i("fiddle", 40, 110), _i("steel guitar", 25), _i("upright bass", 32, 43))),
    ControlPrompt("Calypso in F, cut time, at 112, steel drums and bass guitar, five bars",
                  5, "major", "2/2", 112.0, None, 5, (_i("steel drums", 114), _i("bass guitar", 33, 34, 35, 36, 37))),
    ControlPrompt("Melancholy nocturne in G-sharp minor for solo piano, 3/4, lento, 6 measures",
                  8, "minor", "3/4", None, "Largo", 6, (_i("piano", *PIANO),)),
    ControlPrompt("Koto and shakuhachi miniature in E minor, 4/4, M.M. 60, four bars",
                  4, "minor", "4/4", 60.0, None, 4, (_i("koto", 107), _i("shakuhachi", 77))),
    ControlPrompt("A march for military band in B-flat, two-four, quarter = 116, trumpets, trombones, tuba and "
                  "snare, 8 bars", 10, "major", "2/4", 116.0, None, 8,
                  (_i("trumpet", 56), _i("trombone", 57), _i("tuba", 58), _i("snare", DRUMS))),
    ControlPrompt("Rock ballad in C major, 4/4, 76 bpm, electric piano, clean electric guitar, bass and drums, "
                  "8 bars", 0, "major", "4/4", 76.0, None, 8,
                  (_i("electric piano", 4, 5), _i("electric guitar", 26, 27, 28, 29, 30, 31),
                   _i("bass", *range(32, 40), 43), _i("drums", DRUMS))),
    ControlPrompt("Klezmer dance in D minor, 2/4, allegro, clarinet, violin and accordion, eight bars",
                  2, "minor", "2/4", None, "Allegro", 8, (_i("clarinet", 71), _i("violin", 40), _i("accordion", 21))),
    ControlPrompt("Pastoral in F major for oboe, bassoon and strings, 6/8, andante, 8 bars",
                  5, "major", "6/8", None, "Andante", 8, (_i("oboe", 68), _i("bassoon", 70), _i("strings", *BOWED))),
    ControlPrompt("Ska-flavoured vamp in B flat major, 4/4, 160 bpm, trombone, organ, bass and drum kit, 4 bars",
                  10, "major", "4/4", 160.0, None, 4,
                  (_i("trombone", 57), _i("organ", *range(16, 24)), _i("bass", *range(32, 40), 43),
                   _i("drum kit", DRUMS))),
    ControlPrompt("Lament in C minor for viola and harp, 3/4, grave, at 44 bpm, 6 bars",
                  0, "minor", "3/4", 44.0, None, 6, (_i("viola", 41), _i("harp", 46))),
    ControlPrompt("Chorale prelude in G minor for pipe organ, common time, adagio, eight measures",
                  7, "minor", "4/4", None, "Adagio", 8, (_i("pipe organ", 19),)),
)  # fmt: skip


def control_prompts(n: int = 240) -> list[ControlPrompt]:
    """The held-out suite: the handwritten prompts, then assembled ones up to `n` in all."""
    hand = list(HANDWRITTEN[:n])
    return hand + assembled_prompts(max(0, n - len(hand)))


# Written after the parser was fixed on the prompts above and never tuned on: the honest held-out check of
# whether those fixes generalise (`eval generation --control N --blind`).
BLIND: tuple[ControlPrompt, ...] = (
    ControlPrompt("Something tender in A-flat, 3/4, around ninety bpm, for cor anglais and strings, 8 bars",
                  8, "major", "3/4", 90.0, None, 8, (_i("cor anglais", 69), _i("strings", *BOWED))),
    ControlPrompt("Gm, 4/4, 100 bpm, Wurlitzer and fingerstyle bass, four bars", 7, "minor", "4/4", 100.0, None, 4,
                  (_i("Wurlitzer", 4, 5), _i("fingerstyle bass", 33))),
    ControlPrompt("Andante con moto in E major, 6/8, for violoncello and piano, eight bars", 4, "major", "6/8", None,
                  "Andante", 8, (_i("violoncello", 42), _i("piano", *PIANO))),
    ControlPrompt("Allegro ma non troppo, D minor, cut time, string quartet, 6 measures", 2, "minor", "2/2", None,
                  "Allegro", 6, (_i("violin", 40), _i("viola", 41), _i("cello", 42))),
    ControlPrompt("A quick waltz in B-flat major at 160, for clarinet and tuba, 8 bars", 10, "major", "3/4", 160.0,
                  None, 8, (_i("clarinet", 71), _i("tuba", 58))),
    ControlPrompt("Tempo: 92. Key: F# minor. Time: 4/4. Length: 6 bars. Instruments: pizzicato strings, harp",
                  6, "minor", "4/4", 92.0, None, 6, (_i("pizzicato strings", 45), _i("harp", 46))),
    ControlPrompt("Lullaby for music box and celesta in G, 6/8, very slow, four measures", 7, "major", "6/8", None,
                  "Largo", 4, (_i("music box", 10), _i("celesta", 8))),
    ControlPrompt("Four bars of funk in E minor, 4/4, 108 bpm, clavinet, slap bass and drums", 4, "minor", "4/4",
                  108.0, None, 4, (_i("clavinet", 7), _i("slap bass", 36, 37), _i("drums", DRUMS))),
    ControlPrompt("Chorale in D major for four-part choir, common time, adagio, 8 bars", 2, "major", "4/4", None,
                  "Adagio", 8, (_i("choir", 52, 53, 54),)),
    ControlPrompt("An eight-bar fanfare in C for trumpets, horns and timpani, two-four, allegro", 0, "major", "2/4",
                  None, "Allegro", 8, (_i("trumpet", 56), _i("horn", 60), _i("timpani", 47))),
    ControlPrompt("Sea shanty in A minor, 6/8, 116 bpm, concertina and fiddle, 8 bars", 9, "minor", "6/8", 116.0,
                  None, 8, (_i("concertina", 21, 23), _i("fiddle", 40, 110))),
    ControlPrompt("Slow blues in E flat, 12/8, ♩ = 66, tenor sax, organ, upright bass and brushes, 4 bars",
                  3, "major", "12/8", 66.0, None, 4,
                  (_i("tenor sax", 66), _i("organ", *range(16, 24)), _i("upright bass", 32, 43), _i("brushes", DRUMS))),
    ControlPrompt("A dreamy 5-bar idea in C-sharp minor, 9/8, larghetto, vibes and nylon guitar", 1, "minor", "9/8",
                  None, "Larghetto", 5, (_i("vibes", 11), _i("nylon guitar", 24))),
    ControlPrompt("B major, 3/8, presto, xylophone solo, seven bars", 11, "major", "3/8", None, "Presto", 7,
                  (_i("xylophone", 13),)),
    ControlPrompt("Sarabande for viola da gamba-ish cello and harpsichord in D minor, 3/2, 60 bpm, 6 bars",
                  2, "minor", "3/2", 60.0, None, 6, (_i("cello", 42), _i("harpsichord", 6))),
    ControlPrompt("Celtic air in D, 3/4, 72 beats per minute, uilleann-ish bagpipe and harp, eight measures",
                  2, "major", "3/4", 72.0, None, 8, (_i("bagpipe", 109), _i("harp", 46))),
    ControlPrompt("Minimal piano loop in A minor, 4/4, moderato, four bars", 9, "minor", "4/4", None, "Moderato", 4,
                  (_i("piano", *PIANO),)),
    ControlPrompt("Hoedown in G major, 2/4, fast, banjo, fiddle and acoustic bass, 8 bars", 7, "major", "2/4", None,
                  "Allegro", 8, (_i("banjo", 105), _i("fiddle", 40, 110), _i("acoustic bass", 32))),
    ControlPrompt("Mournful pavane in F-sharp minor, 2/2, slow, for recorders and lute, 6 bars", 6, "minor", "2/2",
                  None, "Adagio", 6, (_i("recorder", 74), _i("lute", 24, 25, 104, 105, 106, 107))),
    ControlPrompt("Ländler in E-flat major for two violins and cello, three-four, ♩=126, eight bars",
                  3, "major", "3/4", 126.0, None, 8, (_i("violin", 40), _i("cello", 42))),
    ControlPrompt("A jig in D major, 6/8 at dotted quarter 116, tin whistle and bouzouki-like guitar, four bars",
                  2, "major", "6/8", 174.0, None, 4, (_i("tin whistle", 78), _i("guitar", *GUITAR))),
    ControlPrompt("Bossa nova in F major, 4/4, 128 bpm, classical guitar, flute and shaker, 8 bars",
                  5, "major", "4/4", 128.0, None, 8,
                  (_i("classical guitar", 24), _i("flute", 73), _i("shaker", DRUMS, 113, 115))),
    ControlPrompt("Toccata-like study in C minor for pipe organ, 4/4, vivace, 6 bars", 0, "minor", "4/4", None,
                  "Vivace", 6, (_i("pipe organ", 19),)),
    ControlPrompt("Gentle 6/4 hymn in A major, ♩ = 84, voices and organ, seven bars", 9, "major", "6/4", 84.0, None,
                  7, (_i("voices", 52, 53, 54, 85, 91), _i("organ", *range(16, 24)))),
    ControlPrompt("Tango in B minor, 2/4, 118 bpm, bandoneon-style accordion, violin, piano, double bass, 8 bars",
                  11, "minor", "2/4", 118.0, None, 8,
                  (_i("accordion", 21, 23), _i("violin", 40), _i("piano", *PIANO), _i("double bass", 32, 43))),
    ControlPrompt("Eight measures in G minor, 3/4, allegretto, for oboe, clarinet and bassoon", 7, "minor", "3/4",
                  None, "Allegretto", 8, (_i("oboe", 68), _i("clarinet", 71), _i("bassoon", 70))),
    ControlPrompt("Nocturne in D-flat major, 12/8, dotted crotchet = 40, solo piano, 4 bars", 1, "major", "12/8",
                  60.0, None, 4, (_i("piano", *PIANO),)),
    ControlPrompt("Swing tune in B-flat, 4/4, 176 bpm, trumpet, trombone, piano, bass and drums, eight bars",
                  10, "major", "4/4", 176.0, None, 8,
                  (_i("trumpet", 56), _i("trombone", 57), _i("piano", *PIANO), _i("bass", *range(32, 40), 43),
                   _i("drums", DRUMS))),
    ControlPrompt("Cradle song in E major for flute and guitar, 6/8, 60 bpm, 6 measures", 4, "major", "6/8", 60.0,
                  None, 6, (_i("flute", 73), _i("guitar", *GUITAR))),
    ControlPrompt("Dirge in C sharp minor, 4/4, grave, low brass: trombones and tuba, five bars", 1, "minor", "4/4",
                  None, "Largo", 5, (_i("trombone", 57), _i("tuba", 58))),
    ControlPrompt("Reggae groove in A major, 4/4, 76 bpm, organ, electric guitar, bass guitar and drums, 4 bars",
                  9, "major", "4/4", 76.0, None, 4,
                  (_i("organ", *range(16, 24)), _i("electric guitar", *range(26, 32)),
                   _i("bass guitar", *range(33, 38)),
                   _i("drums", DRUMS))),
    ControlPrompt("Folk dance in D minor, 9/8, 150 bpm, clarinet and accordion, 8 bars", 2, "minor", "9/8", 150.0,
                  None, 8, (_i("clarinet", 71), _i("accordion", 21, 23))),
    ControlPrompt("Pastorale in G major, 12/8, andante, oboe over strings, eight bars", 7, "major", "12/8", None,
                  "Andante", 8, (_i("oboe", 68), _i("strings", *BOWED))),
    ControlPrompt("A minuet and trio feel in F, three in a bar, ♩=112, harpsichord and recorder, 6 bars",
                  5, "major", "3/4", 112.0, None, 6, (_i("harpsichord", 6), _i("recorder", 74))),
    ControlPrompt("Battle hymn in C major, 4/4, marcato at 96 bpm, brass section and timpani, eight bars",
                  0, "major", "4/4", 96.0, None, 8, (_i("brass", *range(56, 64)), _i("timpani", 47))),
    ControlPrompt("Short 4-bar motif in E minor, 2/4, 140 bpm, synth lead over synth bass", 4, "minor", "2/4",
                  140.0, None, 4, (_i("synth lead", *range(80, 88)), _i("synth bass", 38, 39))),
    ControlPrompt("Barcarolle in G minor, 6/8, ♩. = 46, cello and harp, seven bars", 7, "minor", "6/8", 69.0, None,
                  7, (_i("cello", 42), _i("harp", 46))),
    ControlPrompt("Polonaise-ish piece in A major, 3/4, 100 bpm, full strings, 8 bars", 9, "major", "3/4", 100.0,
                  None, 8, (_i("strings", *BOWED),)),
    ControlPrompt("A rondo theme in D major, 2/4, allegro vivace, violin and piano, 8 measures", 2, "major", "2/4",
                  None, "Vivace", 8, (_i("violin", 40), _i("piano", *PIANO))),
    ControlPrompt("Lament for solo cello in B minor, 4/4, lento, six bars", 11, "minor", "4/4", None, "Largo", 6,
                  (_i("cello", 42),)),
)  # fmt: skip
