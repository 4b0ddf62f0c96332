"""Read the corpus sources once and cache them as plain note lists (JSON lines).

music21 needs ~1 s per chorale, so chorales are parsed once into `chorales.jsonl` (resumable); ABC folk
tunes go through `symusic.Score.from_abc` (~40x faster) and are cheap enough to read on every build.
Each cached record: id, collection, meter [num, den], key [tonic_pc, mode], lead [[start, dur, pitch]...],
lower [[start, dur, pitch]...] (harmony voices, empty for folk), phrase_ends [quarters], chords (given
chord symbols or null), licence.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

MUSIC21_CORPUS = Path(__file__).resolve().parents[2] / ".venv/lib/python3.11/site-packages/music21/corpus"
FOLK_DIRS = ("oneills1850", "ryansMammoth", "airdsAirs", "essenFolksong", "miscFolk", "nottingham-dataset")
MODE_WORDS = {"": "major", "maj": "major", "major": "major", "ion": "major", "m": "minor", "min": "minor",
              "minor": "minor", "aeo": "minor"}


def corpus_root() -> Path:
    try:
        import music21

        return Path(music21.__file__).parent / "corpus"
    except ImportError:
        return MUSIC21_CORPUS


# ---------------------------------------------------------------- chorales (music21)


def _chorale_record(score, idx: int) -> dict | None:
    from music21 import expressions

    parts = list(score.parts)
    if len(parts) < 4:
        return None
    first_measures = parts[0].getElementsByClass("Measure")
    # A pickup measure starts the flat timeline at 0; shift so bar lines fall on multiples of the bar length.
    shift = float(first_measures[0].paddingLeft) if len(first_measures) else 0.0
    ts = parts[0].recurse().getElementsByClass("TimeSignature")
    meter = [ts[0].numerator, ts[0].denominator] if len(ts) else [4, 4]
    voices = []
    fermatas: list[float] = []
    for pi, part in enumerate(parts[:4]):
        notes = []
        for n in part.flatten().notes:
            if not n.isNote:
                continue
            start = float(n.getOffsetInHierarchy(part)) + shift
            dur = float(n.duration.quarterLength)
            if dur <= 0:
                continue
            notes.append([round(start, 4), round(dur, 4), int(n.pitch.midi)])
            if pi == 0 and any(isinstance(e, expressions.Fermata) for e in n.expressions):
                fermatas.append(round(start + dur, 4))
        voices.append(notes)
    ks = parts[0].recurse().getElementsByClass("KeySignature")
    sharps = int(ks[0].sharps) if len(ks) else 0
    major_pc = (7 * sharps) % 12
    minor_pc = (major_pc + 9) % 12
    # The final bass note decides between the signature's major key and its relative minor.
    final_bass = voices[3][-1][2] % 12 if voices[3] else major_pc
    key = [minor_pc, "minor"] if final_bass == minor_pc else [major_pc, "major"]
    lower = sorted(voices[1] + voices[2] + voices[3])
    return dict(id=f"chorales/{idx:03d}", collection="chorales", meter=meter, key=key, lead=voices[0],
                lower=lower, phrase_ends=fermatas, chords=None, licence="public domain")


def cache_chorales(out: Path, limit: int | None = None) -> int:
    """Append parsed chorales to `out` (JSON lines); skips those already there. Returns how many exist."""
    from music21 import corpus

    done = set()
    if out.exists():
        done = {json.loads(line)["id"] for line in out.read_text().splitlines() if line.strip()}
    n = len(done)
    with out.open("a") as f:
        for idx, score in enumerate(corpus.chorales.Iterator()):
            if limit is not None and idx >= limit:
                break
            if f"chorales/{idx:03d}" in done:
                continue
            try:
                rec = _chorale_record(score, idx)
            except Exception as e:  # one broken score must not stop the cache
                log.warning("chorale %d skipped: %s", idx, e)
                continue
            if rec:
                f.write(json.dumps(rec) + "\n")
                f.flush()
                n += 1
    return n


def load_cached(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ---------------------------------------------------------------- folk tunes (ABC via symusic)


def split_abc_tunes(text: str) -> list[str]:
    return [t for t in re.split(r"\n(?=X:)", "\n" + text) if t.strip().startswith("X:")]


def abc_header(tune: str, field: str) -> str | None:
    m = re.search(rf"^{field}:\s*(.*)$", tune, flags=re.M)
    return m.group(1).strip() if m else None


def parse_abc_key(k: str | None) -> tuple[int, str] | None:
    """'Gm' -> (7, 'minor'), 'D' -> (2, 'major'); modal keys (Dmix, Ador) -> None: we model major/minor only."""
    if not k:
        return None
    m = re.match(r"^([A-Ga-g])([#b]?)\s*([A-Za-z]*)", k.strip())
    if not m:
        return None
    base = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}[m.group(1).upper()]
    pc = (base + {"#": 1, "b": -1, "": 0}[m.group(2)]) % 12
    mode = MODE_WORDS.get(m.group(3).lower()[:3] if m.group(3).lower() not in MODE_WORDS else m.group(3).lower())
    return (pc, mode) if mode else None


def _quiet_from_abc(tune: str):
    """symusic.Score.from_abc with abc2midi's chatter on stdout/stderr silenced."""
    import symusic

    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            return symusic.Score.from_abc(tune)
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def iter_folk(limit_per_dir: int = 400, dirs=FOLK_DIRS) -> Iterator[dict]:
    """Folk tunes in plain major/minor keys with a fixed meter; chords (if written) are read from the ABC text."""
    root = corpus_root()
    for d in dirs:
        count = 0
        for path in sorted((root / d).glob("*.abc")):
            text = path.read_text(encoding="latin-1")
            for ti, tune in enumerate(split_abc_tunes(text)):
                if count >= limit_per_dir:
                    break
                rec = _folk_record(tune, f"{d}/{path.stem}-{ti:03d}", d)
                if rec:
                    count += 1
                    yield rec
            if count >= limit_per_dir:
                break


def _folk_record(tune: str, pid: str, collection: str) -> dict | None:
    key = parse_abc_key(abc_header(tune, "K"))
    meter_text = abc_header(tune, "M") or ""
    mm = re.match(r"^(\d+)/(\d+)$", meter_text.replace("C|", "2/2").replace("C", "4/4").strip())
    if key is None or not mm:
        return None
    if len(re.findall(r"^M:", tune, flags=re.M)) > 1 or re.search(r"\[M:", tune):
        return None  # meter changes: skip rather than mis-align bars
    meter = [int(mm.group(1)), int(mm.group(2))]
    if meter[0] * 4 / meter[1] > 6 or meter[1] not in (2, 4, 8):
        return None
    try:
        score = _quiet_from_abc(tune)
    except Exception:
        return None
    tpq = score.ticks_per_quarter
    notes = [n for tr in score.tracks for n in tr.notes]
    if len(notes) < 16:
        return None
    lead = sorted([round(round(n.time / tpq * 12) / 12, 4), round(max(1, round(n.duration / tpq * 12)) / 12, 4),
                   int(n.pitch)] for n in notes)
    bar = meter[0] * 4 / meter[1]
    pickup = abc_pickup_quarters(tune, bar)
    # abc2midi starts a pickup at time 0: move it to the end of an empty first bar so bar lines fall on
    # multiples of the bar length (a repeat that replays the pickup keeps that alignment).
    shift = (bar - pickup) % bar
    lead = [[round(s + shift, 4), d, p] for s, d, p in lead]
    return dict(id=pid, collection=collection, meter=meter, key=[key[0], key[1]], lead=lead, lower=[],
                phrase_ends=[], chords=None, rhythm=(abc_header(tune, "R") or "").lower(),
                licence="non-commercial (Essen)" if collection == "essenFolksong" else "public domain")


_NOTE_RE = re.compile(r"[=^_]*([A-Ga-gzxZ])[,']*(\d*)(/*)(\d*)")


def abc_pickup_quarters(tune: str, bar_quarters: float) -> float:
    """Length (quarters) of an incomplete first bar, 0 if the tune starts on a downbeat.

    Rough ABC reading of the first bar only: note lengths against `L:` (default 1/8, or 1/16 below 3/4);
    chord symbols, decorations and grace notes are skipped, chords count as their first note.
    """
    unit_text = abc_header(tune, "L")
    if unit_text and re.match(r"^\d+/\d+$", unit_text):
        a, b = unit_text.split("/")
        unit = 4.0 * int(a) / int(b)
    else:
        unit = 0.5 if bar_quarters >= 3 else 0.25
    lines = tune.splitlines()
    kline = next((i for i, line in enumerate(lines) if line.startswith("K:")), None)
    if kline is None:
        return 0.0
    body = " ".join(line for line in lines[kline + 1:] if not re.match(r"^[A-Za-z]:", line))
    body = re.sub(r'"[^"]*"|![^!]*!|\{[^}]*\}|\+[^+]*\+', "", body)
    body = re.sub(r"\[([^\]|]*)\]", lambda m: (m.group(1)[:1] if m.group(1)[:1].isalpha() else ""), body)
    body = body.lstrip(" |:[12")
    first = body.split("|", 1)[0]
    total = 0.0
    for m in _NOTE_RE.finditer(first):
        num = int(m.group(2)) if m.group(2) else 1
        slashes = len(m.group(3))
        den = int(m.group(4)) if m.group(4) else (2 ** slashes if slashes else 1)
        if slashes and m.group(4):
            den = int(m.group(4))
        total += unit * num / den
    return total if 0 < total < bar_quarters - 1e-6 else 0.0


def main() -> None:  # pragma: no cover - background cache job
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO)
    n = cache_chorales(args.out, args.limit)
    log.info("chorales cached: %d", n)


if __name__ == "__main__":
    main()
