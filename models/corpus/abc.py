"""ABC tunes: split multi-tune files, read header labels, and render bodies fast with symusic (abc2midi).

music21 parses ABC ~40x slower than symusic, so only the headers are parsed here by hand; the body goes
to `symusic.Score.from_abc`. The one thing abc2midi gets wrong for bar cutting is the pickup (anacrusis):
its first note lands on beat 1, so the pickup length is measured from the ABC text and the notes are
shifted to end the pickup on the first bar line.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field, replace
from fractions import Fraction

import numpy as np

from bridge.music import MidiFileError, Piece, piece_from_score
from models.corpus.keys import Key, parse_abc_key


class AbcError(Exception):
    """An ABC tune that cannot be used; str(error) is a one-line reason."""


@dataclass(frozen=True)
class AbcTune:
    number: str
    text: str
    headers: dict[str, list[str]] = field(default_factory=dict)

    def header(self, name: str, default: str = "") -> str:
        values = self.headers.get(name)
        return values[0].strip() if values else default

    @property
    def title(self) -> str:
        return self.header("T")

    @property
    def body(self) -> str:
        """Everything after the `K:` line (ABC requires K: to close the header)."""
        lines = self.text.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("K:"):
                return "\n".join(lines[i + 1 :])
        return ""


def split_tunes(text: str) -> list[AbcTune]:
    """Cut a multi-tune .abc file at its `X:` lines and read each tune's header fields."""
    tunes: list[AbcTune] = []
    chunks = re.split(r"(?m)^(?=X:)", text)
    for chunk in chunks:
        if not chunk.startswith("X:"):
            continue
        headers: dict[str, list[str]] = {}
        for line in chunk.splitlines():
            m = re.match(r"^([A-Za-z]):(.*)$", line)
            if m:
                headers.setdefault(m.group(1), []).append(m.group(2).strip())
            if line.startswith("K:"):
                break
        number = headers.get("X", ["?"])[0].strip() or "?"
        tunes.append(AbcTune(number=number, text=chunk.strip() + "\n", headers=headers))
    return tunes


def parse_meter(value: str) -> tuple[int, int] | None:
    """`M:` value as (numerator, denominator); None for free meter."""
    v = value.strip().split("%")[0].strip()
    if v == "C":
        return 4, 4
    if v == "C|":
        return 2, 2
    m = re.match(r"^(\d+)\s*/\s*(\d+)", v)
    if not m:
        return None
    num, den = int(m.group(1)), int(m.group(2))
    if num <= 0 or den <= 0 or den & (den - 1):
        return None
    return num, den


def unit_length(tune: AbcTune, meter: tuple[int, int] | None) -> Fraction:
    """The `L:` unit as a fraction of a whole note (ABC's default depends on the meter)."""
    m = re.match(r"^\s*(\d+)\s*/\s*(\d+)", tune.header("L"))
    if m and int(m.group(2)) > 0:
        return Fraction(int(m.group(1)), int(m.group(2)))
    if meter and Fraction(*meter) < Fraction(3, 4):
        return Fraction(1, 16)
    return Fraction(1, 8)


_STRIP = re.compile(r'%[^\n]*|"[^"]*"|![^!\n]*!|\+[^+\n]*\+|\{[^}]*\}|\[[A-Za-z]:[^\]]*\]')
_NOTE = re.compile(r"(\[[^\]]*\]|[_^=]*[A-Ga-gzx][,']*)(\d*)(/*)(\d*)")
_TUPLET = re.compile(r"\((\d)(?::\d?)?(?::\d?)?")


def _length_multiplier(num: str, slashes: str, den: str) -> Fraction:
    value = Fraction(int(num)) if num else Fraction(1)
    if slashes:
        divisor = int(den) if den else 2 ** len(slashes)
        value /= max(1, divisor)
    return value


def pickup_quarters(tune: AbcTune, bar_quarters: float) -> float:
    """Length of the incomplete first bar in quarters, 0 when the tune starts on a downbeat."""
    meter = parse_meter(tune.header("M"))
    unit = unit_length(tune, meter)
    body = _STRIP.sub(" ", tune.body)
    body = re.sub(r"^[\s|:\[\]1]*", "", body)  # leading bar lines and repeat signs
    end = re.search(r"\||::", body)
    if end is None:
        return 0.0
    first = body[: end.start()]
    total = Fraction(0)
    tuplet_left, tuplet_factor = 0, Fraction(1)
    pos = 0
    while pos < len(first):
        t = _TUPLET.match(first, pos)
        if t:
            p = int(t.group(1))
            tuplet_left, tuplet_factor = p, {2: Fraction(3, 2), 3: Fraction(2, 3), 4: Fraction(3, 4)}.get(
                p, Fraction(2, 3) if p % 3 == 0 else Fraction(p - 1, p)
            )
            pos = t.end()
            continue
        n = _NOTE.match(first, pos)
        if n:
            token = n.group(1)
            if token.startswith("["):
                inner = _NOTE.search(token[1:])
                base = _length_multiplier(*inner.groups()[1:]) if inner else Fraction(1)
            else:
                base = Fraction(1)
            length = base * _length_multiplier(n.group(2), n.group(3), n.group(4))
            if tuplet_left:
                length *= tuplet_factor
                tuplet_left -= 1
            total += length
            pos = n.end()
            continue
        pos += 1
    quarters = float(total * unit * 4)
    if quarters <= 1e-6 or quarters >= bar_quarters - 1e-6:
        return 0.0
    return quarters


@contextlib.contextmanager
def _quiet_stderr():
    """abc2midi (inside symusic) prints a warning per irregular bar straight to fds 1 and 2."""
    import sys

    try:
        sys.stdout.flush()
        saved = [os.dup(1), os.dup(2)]
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def render_tune(tune: AbcTune) -> Piece:
    """The tune's melody (first voice) as a Piece, pickup aligned so bar lines fall on the meter."""
    import symusic

    if not tune.body.strip():
        raise AbcError("no body after K:")
    try:
        with _quiet_stderr():
            score = symusic.Score.from_abc(tune.text)
    except Exception as e:  # abc2midi raises RuntimeError with C messages
        raise AbcError(f"abc2midi failed: {str(e).strip().splitlines()[0][:160] if str(e).strip() else e}") from e
    if len(score.tracks) == 0:
        raise AbcError("no tracks")
    # abc2midi adds tracks for guitar-chord symbols; the written melody is always track 0.
    melody = score.copy()
    melody.tracks = [score.tracks[0]]
    try:
        piece = piece_from_score(melody)
    except MidiFileError as e:
        raise AbcError(str(e)) from e
    piece = replace(piece, key_signatures=(), track_names=(tune.title or "melody",))
    # abc2midi starts the first note a tick late; snap it back so bar math stays exact.
    lead = float(piece.notes.start.min())
    if 0 < lead < 0.05:
        piece = piece.with_notes(piece.notes.with_(start=np.maximum(0.0, piece.notes.start - lead)))
    bar_q = piece.time_signatures[0].bar_quarters
    pickup = pickup_quarters(tune, bar_q)
    if pickup:
        piece = shift_piece(piece, bar_q - pickup)
    return piece


def shift_piece(piece: Piece, offset: float) -> Piece:
    """Delay every note and every later map event by `offset` quarters (events at 0 stay at 0)."""
    notes = piece.notes.with_(start=piece.notes.start + offset)

    def move(events):
        return tuple(replace(e, time=e.time + offset) if e.time > 1e-9 else e for e in events)

    return replace(
        piece,
        notes=notes,
        tempos=move(piece.tempos),
        time_signatures=move(piece.time_signatures),
        key_signatures=move(piece.key_signatures),
    )


def tune_key(tune: AbcTune, piece: Piece) -> Key | None:
    """Key and mode from `K:`; a bare signature (no mode word) gets its mode from the final note."""
    from models.corpus.keys import key_from_signature_and_final

    key, explicit = parse_abc_key(tune.header("K"))
    if key is None or explicit:
        return key
    notes = piece.notes
    if len(notes) == 0:
        return key
    final_pc = int(notes.pitch[int(np.argmax(notes.start))]) % 12
    return key_from_signature_and_final(key.major_pc, final_pc)
