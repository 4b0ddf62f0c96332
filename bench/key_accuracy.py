"""Key-detection accuracy of `bridge.analysis.estimate_key` on music whose key is known from its source.

Folk tunes (music21 corpus ABC files): the `K:` header is the ground truth. In O'Neill, Ryan, Aird and
miscFolk it names tonic and mode (`G`, `Am`, `Ador`, `Dmix`); in the Essen collection it names the tonic
only (the notes carry explicit accidentals), so Essen's major/minor label is derived from which third
above that tonic sounds longer. Essen's Chinese tunes (han1, han2) are left out: their K: is the
pentatonic "do" (a 1=C marking), not the tonic, so they have no key truth. Modal tunes (Dorian,
Mixolydian...) are scored apart, on their tonic and on the major/minor guess of their mode
(Dorian/Phrygian/Aeolian/Locrian -> minor, Ionian/Lydian/Mixolydian -> major).

Bach chorales (music21 `corpus.chorales.Iterator()`): key signature + final bass note. The final bass on
the signature's major tonic means major, on its relative minor means minor; a final bass a tone above the
major tonic is a minor key with a Dorian signature (G minor with one flat), common in Bach. Anything else
(Phrygian endings, modal chorales) is reported as ambiguous and not scored.

Key signatures are stripped from every piece before analysis; `estimate_key` sees notes only.
Pieces are split into a tuning half and a held-out half by a hash of their id; both are reported.

Key sections (`--sections`): the same pieces, which are in one key, scored on the global key of
`analyze_piece` (the key that governs most of the piece) against `estimate_key` of the whole piece, on how
many get a key change reported, and on the key of every library window (`window_spans`) taken from its
key section (`window_keys`) against the window's own notes (what the index stored before). Then
multi-section scores from the music21 corpus whose key signature changes (minuet and trio, polonaise and
trio, the Maple Leaf Rag with its repeats expanded): sections judged by key signature (the estimate's
signature must match, as a signature does not tell major from relative minor), key changes found within
two bars of a signature change, and the windows' keys.

    .venv/bin/python bench/key_accuracy.py [--limit N] [--json] [--collections essen,oneill,chorales]
    .venv/bin/python bench/key_accuracy.py --sections --limit 300 --collections oneill,ryan,essen,chorales
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run_info, also when imported by path (tests)
from run_info import announce  # noqa: E402

from bridge.analysis import analyze_piece, estimate_key  # noqa: E402
from bridge.analysis.key import DEFAULT_PARAMS, KeyParams, key_features, pitch_class_histogram, score_keys  # noqa: E402
from bridge.analysis.names import parse_pc, tonic_name  # noqa: E402
from bridge.library.windows import window_keys, window_spans  # noqa: E402
from bridge.music import MidiFileError, NoteList, Piece, TempoChange, TimeSignature, piece_from_score  # noqa: E402
from bridge.music.midi_file import load_midi_bytes  # noqa: E402

FOLK_COLLECTIONS = {
    "essen": "essenFolksong",
    "oneill": "oneills1850",
    "ryan": "ryansMammoth",
    "aird": "airdsAirs",
    "miscfolk": "miscFolk",
}
ALL_COLLECTIONS = (*FOLK_COLLECTIONS, "chorales")
MODE_GUESS = {
    "major": "major", "ionian": "major", "lydian": "major", "mixolydian": "major",
    "minor": "minor", "aeolian": "minor", "dorian": "minor", "phrygian": "minor", "locrian": "minor",
}  # fmt: skip
_MODE_WORDS = {
    "": "major", "maj": "major", "major": "major", "ion": "ionian", "ionian": "ionian",
    "m": "minor", "min": "minor", "minor": "minor", "aeo": "aeolian", "aeolian": "aeolian",
    "dor": "dorian", "dorian": "dorian", "phr": "phrygian", "phrygian": "phrygian", "lyd": "lydian",
    "lydian": "lydian", "mix": "mixolydian", "mixolydian": "mixolydian", "loc": "locrian", "locrian": "locrian",
}  # fmt: skip


def corpus_dir() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"


@dataclass(frozen=True)
class Truth:
    tonic_pc: int
    mode: str  # "major" | "minor" | a church mode name
    source: str  # "abc_header" | "abc_tonic+third" | "chorale"

    @property
    def is_modal(self) -> bool:
        return self.mode not in ("major", "minor")

    @property
    def guess(self) -> str:
        return MODE_GUESS[self.mode]

    @property
    def name(self) -> str:
        return f"{tonic_name(self.tonic_pc, self.guess)} {self.mode}"


@dataclass(frozen=True)
class Item:
    piece_id: str
    collection: str
    piece: Piece
    truth: Truth

    @property
    def held_out(self) -> bool:
        """Stable half split: tune parameters only on the other half."""
        return hashlib.md5(self.piece_id.split("@")[0].encode()).digest()[0] % 2 == 1


def clips(items: list[Item], bars: int) -> list[Item]:
    """Every whole, non-overlapping `bars`-bar window of every piece, judged against the piece's key
    (as the corpus uses analyze_piece on clips); ids are "<piece>@b<first bar>", split by piece."""
    out = []
    for it in items:
        starts = it.piece.bar_starts()
        for i in range(0, len(starts) - bars, bars):
            window = it.piece.window(float(starts[i]), float(starts[i + bars]))
            if len(window.notes.pitched()) >= 4:
                out.append(Item(f"{it.piece_id}@b{i}", it.collection, window, it.truth))
    return out


# ---------------------------------------------------------------- ground truth from ABC headers


def parse_abc_key(field: str) -> tuple[int, str] | None:
    """'Ador' -> (9, 'dorian'); 'E Minor' -> (4, 'minor'); 'Bb' -> (10, 'major'); None for 'Hp', 'none'."""
    text = field.split("%")[0].strip()
    m = re.match(r"^([A-Ha-h])([#b]?)\s*([A-Za-z]*)", text)
    if not m or text.lower().startswith(("hp", "none")):
        return None
    letter, accidental, mode = m.groups()
    if mode.lower() == "s" and letter.upper() in "AE":  # German "Es", "As"
        accidental, mode = "b", ""
    mode = mode.lower()
    mode = _MODE_WORDS.get(mode, _MODE_WORDS.get(mode[:3]))
    if mode is None:
        return None
    return parse_pc(letter.upper() + accidental), mode


def split_abc_tunes(text: str) -> list[str]:
    tunes, current = [], None
    for line in text.splitlines():
        if line.startswith("X:"):
            if current:
                tunes.append("\n".join(current))
            current = [line]
        elif current is not None:
            current.append(line)
    if current:
        tunes.append("\n".join(current))
    return tunes


def header_field(tune: str, name: str) -> str | None:
    for line in tune.splitlines():
        if line.startswith(name + ":"):
            return line[len(name) + 1 :].strip()
    return None


@contextlib.contextmanager
def quiet_stderr():
    """symusic's ABC parser prints bar-length warnings straight to the C stdout; keep the report readable."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def abc_piece(tune: str) -> Piece | None:
    import symusic

    try:
        with quiet_stderr():
            score = symusic.Score.from_abc(tune)
        return piece_from_score(score).without_key_signatures()
    except (MidiFileError, RuntimeError, ValueError):
        return None


def essen_mode(piece: Piece, tonic_pc: int) -> str | None:
    """Essen's K: gives the tonic; the longer-sounding third above it says major or minor."""
    hist = pitch_class_histogram(piece.notes)
    minor, major = hist[(tonic_pc + 3) % 12], hist[(tonic_pc + 4) % 12]
    if minor == major:
        return None
    return "minor" if minor > major else "major"


def load_folk(collection: str, limit: int | None) -> tuple[list[Item], Counter]:
    skipped: Counter = Counter()
    items: list[Item] = []
    folder = corpus_dir() / FOLK_COLLECTIONS[collection]
    for path in sorted(folder.glob("*.abc")):
        if collection == "essen" and path.stem.startswith("han"):
            # Essen's Chinese tunes write K: as the pentatonic "do" (1=C), not the final: no tonic truth.
            skipped["essen: Chinese tunes (K: is the do, not the tonic)"] += len(
                split_abc_tunes(path.read_text("latin-1"))
            )
            continue
        for tune in split_abc_tunes(path.read_text(encoding="latin-1")):
            if limit is not None and len(items) >= limit:
                return items, skipped
            key_field = header_field(tune, "K")
            parsed = parse_abc_key(key_field) if key_field is not None else None
            if parsed is None:
                skipped["no usable K: field"] += 1
                continue
            piece = abc_piece(tune)
            if piece is None or len(piece.notes.pitched()) < 8:
                skipped["unparsable or under 8 notes"] += 1
                continue
            tonic, mode = parsed
            source = "abc_header"
            if collection == "essen":
                derived = essen_mode(piece, tonic)
                if derived is None:
                    skipped["essen: no third above the tonic"] += 1
                    continue
                mode, source = derived, "abc_tonic+third"
            x = header_field(tune, "X") or str(len(items))
            items.append(Item(f"{collection}/{path.stem}/{x}", collection, piece, Truth(tonic, mode, source)))
    return items, skipped


# ---------------------------------------------------------------- Bach chorales


def chorale_truth(sharps: int, final_bass_pc: int) -> Truth | None:
    major_tonic = (7 * sharps) % 12
    if final_bass_pc == major_tonic:
        return Truth(major_tonic, "major", "chorale")
    if final_bass_pc == (major_tonic + 9) % 12:
        return Truth(final_bass_pc, "minor", "chorale")
    if final_bass_pc == (major_tonic + 2) % 12:  # Dorian signature: G minor written with one flat
        return Truth(final_bass_pc, "minor", "chorale")
    return None


def load_chorales(limit: int | None, cache: Path) -> tuple[list[Item], Counter]:
    """Parse once with music21 (slow), then reuse MIDI + truth from `cache`."""
    skipped: Counter = Counter()
    cache.mkdir(parents=True, exist_ok=True)
    index_path = cache / "chorales.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else None
    if index is None:
        index = build_chorale_cache(cache)
        index_path.write_text(json.dumps(index))
    items: list[Item] = []
    for entry in index:
        if limit is not None and len(items) >= limit:
            break
        truth = chorale_truth(entry["sharps"], entry["final_bass_pc"])
        if truth is None:
            skipped["ambiguous: final bass not on the signature's tonic"] += 1
            continue
        piece = load_midi_bytes((cache / entry["midi"]).read_bytes()).without_key_signatures()
        items.append(Item(f"chorales/{entry['id']}", "chorales", piece, truth))
    return items, skipped


def build_chorale_cache(cache: Path) -> list[dict]:
    from music21 import corpus
    from music21 import key as m21key

    index = []
    for score in corpus.chorales.Iterator(returnType="stream"):
        ident = str(score.metadata.number if score.metadata and score.metadata.number else len(index))
        ident = re.sub(r"[^\w.-]", "_", (score.metadata.title or "") + "_" + ident)[:80]
        sigs = list(score.parts[0].recurse().getElementsByClass(m21key.KeySignature))
        bass_notes = list(score.parts[-1].recurse().notes)
        if not sigs or not bass_notes:
            continue
        last = bass_notes[-1]
        final_bass = min(p.midi for p in last.pitches) % 12
        name = f"chorale_{len(index):03d}.mid"
        try:
            piece_bytes = _music21_midi_bytes(score)
        except Exception as e:  # a few chorales have notation music21 cannot export
            print(f"skip {ident}: {e}", file=sys.stderr)
            continue
        (cache / name).write_bytes(piece_bytes)
        index.append({"id": ident, "midi": name, "sharps": int(sigs[0].sharps), "final_bass_pc": final_bass})
        print(f"cached {len(index)} chorales", end="\r", file=sys.stderr)
    return index


def _music21_midi_bytes(score) -> bytes:
    from music21 import midi

    return midi.translate.streamToMidiFile(score).writestr()


# ---------------------------------------------------------------- scoring


def relation(truth: Truth, tonic_pc: int, mode: str) -> str:
    """How a wrong answer relates to the true key: the usual suspects of key finding."""
    t_mode = truth.guess
    d = (tonic_pc - truth.tonic_pc) % 12
    if d == 0:
        return "parallel" if mode != t_mode else "correct"
    if mode != t_mode and ((t_mode == "major" and d == 9) or (t_mode == "minor" and d == 3)):
        return "relative"
    if mode == t_mode and d == 7:
        return "dominant"
    if mode == t_mode and d == 5:
        return "subdominant"
    return "other"


def evaluate(items: list[Item], params: KeyParams | None = None) -> list[dict]:
    rows = []
    for item in items:
        est = estimate_key(item.piece.notes) if params is None else estimate_key(item.piece.notes, params)
        t = item.truth
        rows.append(
            {
                "id": item.piece_id,
                "collection": item.collection,
                "held_out": item.held_out,
                "truth": t.name,
                "truth_mode": t.mode,
                "modal": t.is_modal,
                "estimate": est.name,
                "confidence": est.confidence,
                "tonic_ok": est.tonic_pc == t.tonic_pc,
                "key_ok": est.tonic_pc == t.tonic_pc and est.mode == t.guess,
                "relation": relation(t, est.tonic_pc, est.mode),
            }
        )
    return rows


def summarise(rows: list[dict]) -> dict:
    out: dict = {"collections": {}, "modal": {}}
    groups: dict[str, list[dict]] = defaultdict(list)
    modal: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        (modal[r["truth_mode"]] if r["modal"] else groups[r["collection"]]).append(r)
    folk = [r for c, rs in groups.items() if c != "chorales" for r in rs]
    for name, rs in [*sorted(groups.items()), ("all folk (major/minor)", folk)]:
        if rs:
            out["collections"][name] = _accuracy(rs)
    for name, rs in sorted(modal.items()):
        out["modal"][name] = _accuracy(rs)
    wrong = [r for r in rows if not r["key_ok"] and not r["modal"]]
    out["relations"] = dict(Counter(r["relation"] for r in wrong).most_common())
    out["confusions"] = [
        {"truth": t, "estimate": e, "count": n}
        for (t, e), n in Counter((r["truth"], r["estimate"]) for r in wrong).most_common(12)
    ]
    return out


def _accuracy(rs: list[dict]) -> dict:
    def acc(sel, field):
        return round(sum(r[field] for r in sel) / len(sel), 4) if sel else None

    tune = [r for r in rs if not r["held_out"]]
    held = [r for r in rs if r["held_out"]]
    return {
        "n": len(rs),
        "key": acc(rs, "key_ok"),
        "tonic": acc(rs, "tonic_ok"),
        "key_tuning_half": acc(tune, "key_ok"),
        "key_held_out_half": acc(held, "key_ok"),
        "n_held_out": len(held),
    }


# ---------------------------------------------------------------- key sections and window keys

# Corpus scores whose key signature changes for a trio or middle section (written without the da capo,
# so most end in the trio's key), and the Maple Leaf Rag with its repeats expanded (A B B A C C D D).
SECTION_SCORES = (
    "joplin/maple_leaf_rag.mxl",
    "schumann_clara/polonaise_op1n1.mxl",
    "schumann_clara/polonaise_op1n2.mxl",
    "schumann_clara/polonaise_op1n3.mxl",
    "mozart/k156/movement3.mxl",
    "mozart/k80/movement3.mxl",
    "haydn/opus74no1/movement3.mxl",
    "haydn/opus1no1/movement2.mxl",
    "beethoven/opus59no2/movement3.mxl",
)


def signature_of(tonic_pc: int, mode: str) -> int:
    """Sharps (negative: flats, -5..6 with F# = Gb as 6) of a major or minor key's signature."""
    major = tonic_pc if mode == "major" else (tonic_pc + 3) % 12
    return (major * 7 + 5) % 12 - 5


def load_section_scores(cache: Path) -> list[dict]:
    """[{id, piece, changes: [(quarter, sharps)], bar_q}] from SECTION_SCORES, cached as MIDI + JSON."""
    cache.mkdir(parents=True, exist_ok=True)
    index_path = cache / "sections.json"
    if not index_path.exists():
        index_path.write_text(json.dumps([_section_entry(name, cache) for name in SECTION_SCORES]))
    out = []
    for entry in json.loads(index_path.read_text()):
        piece = load_midi_bytes((cache / entry["midi"]).read_bytes()).without_key_signatures()
        out.append({**entry, "piece": piece, "changes": [tuple(c) for c in entry["changes"]]})
    return out


def _section_entry(name: str, cache: Path) -> dict:
    from music21 import corpus
    from music21 import key as m21key
    from music21 import meter as m21meter

    score = corpus.parse(name)
    try:
        score = score.expandRepeats()
    except Exception:  # badly formed repeats: the score as written
        pass
    part = score.parts[0]
    measures = list(part.getElementsByClass("Measure"))
    ts = next(iter(score.recurse().getElementsByClass(m21meter.TimeSignature)))
    bar_q = float(ts.barDuration.quarterLength)
    pad = bar_q - float(measures[0].duration.quarterLength)  # a pickup becomes a whole first bar
    pad = pad if 0 < pad < bar_q else 0.0
    changes, current = [], None
    for m in measures:
        for k in m.getElementsByClass(m21key.KeySignature):
            if k.sharps != current:
                changes.append((float(m.offset) + pad, (int(k.sharps) + 5) % 12 - 5))  # Gb = F#, Cb = B
                current = k.sharps
    rows = []
    for track, p in enumerate(score.parts):
        for n in p.flatten().stripTies().notes:
            if n.quarterLength > 0:
                rows += [(float(n.offset) + pad, float(n.quarterLength), x.midi, track) for x in n.pitches]
    start, duration, pitch, track = zip(*rows)
    k = len(rows)
    piece = Piece(
        notes=NoteList.from_columns(start, duration, pitch, [80] * k, [0] * k, [False] * k, track),
        tempos=(TempoChange(0.0, 100.0),),
        time_signatures=(TimeSignature(0.0, int(ts.numerator), int(ts.denominator)),),
    )
    ident = name.replace("/", "_").removesuffix(".mxl")
    from bridge.music import save_midi

    save_midi(piece, cache / f"{ident}.mid")
    return {"id": ident, "midi": f"{ident}.mid", "changes": changes, "bar_q": bar_q}


def _signature_at(changes: list[tuple[float, int]], q: float) -> int:
    sharps = changes[0][1]
    for t, s in changes:
        if t <= q + 1e-6:
            sharps = s
    return sharps


def _governing_signature(changes: list[tuple[float, int]], end: float) -> int:
    """The signature in force for the most quarters (ties: the earliest)."""
    spans: dict[int, float] = {}
    for (t, s), nxt in zip(changes, [c[0] for c in changes[1:]] + [end]):
        spans[s] = spans.get(s, 0.0) + max(nxt - t, 0.0)
    return max(spans, key=lambda s: spans[s])


def _window_truth(changes, start: float, stop: float) -> int:
    """The signature covering most of [start, stop)."""
    edges = [c[0] for c in changes] + [float("inf")]
    cover = {}
    for (t, s), nxt in zip(changes, edges[1:]):
        cover[s] = cover.get(s, 0.0) + max(0.0, min(stop, nxt) - max(start, t))
    return max(cover, key=lambda s: cover[s])


def evaluate_sections(items: list[Item], cache: Path) -> dict:
    single = {"pieces": 0, "global_old": 0, "global_new": 0, "with_changes": 0, "windows": 0, "win_old": 0,
              "win_new": 0}  # fmt: skip
    for it in items:
        if it.truth.is_modal:
            continue
        truth = (it.truth.tonic_pc, it.truth.guess)
        a = analyze_piece(it.piece, with_chords=False)
        whole = estimate_key(it.piece.notes)
        single["pieces"] += 1
        single["global_old"] += (whole.tonic_pc, whole.mode) == truth
        single["global_new"] += (a.key.tonic_pc, a.key.mode) == truth
        single["with_changes"] += bool(a.key_changes)
        spans = window_spans(it.piece)
        for span, key in zip(spans, window_keys(it.piece, spans, a.key_sections)):
            own = analyze_piece(it.piece.window(span.start_q, span.stop_q), with_chords=False).key
            single["windows"] += 1
            single["win_old"] += (own.tonic_pc, own.mode) == truth
            single["win_new"] += (key.tonic_pc, key.mode) == truth
    multi = {"pieces": [], "global_old": 0, "global_new": 0, "true_changes": 0, "found": 0, "reported": 0,
             "windows": 0, "win_old": 0, "win_new": 0}  # fmt: skip
    for entry in load_section_scores(cache):
        piece, changes, bar_q = entry["piece"], entry["changes"], entry["bar_q"]
        a = analyze_piece(piece, with_chords=False)
        whole = estimate_key(piece.notes)
        truth = _governing_signature(changes, piece.end)
        multi["global_old"] += signature_of(whole.tonic_pc, whole.mode) == truth
        multi["global_new"] += signature_of(a.key.tonic_pc, a.key.mode) == truth
        found = [c.time for c in a.key_changes]
        true_times = [t for t, _ in changes[1:]]
        multi["true_changes"] += len(true_times)
        multi["reported"] += len(found)
        multi["found"] += sum(any(abs(f - t) <= 2 * bar_q + 1e-6 for f in found) for t in true_times)
        spans = window_spans(piece)
        w_old = w_new = 0
        for span, key in zip(spans, window_keys(piece, spans, a.key_sections)):
            want = _window_truth(changes, span.start_q, span.stop_q)
            own = analyze_piece(piece.window(span.start_q, span.stop_q), with_chords=False).key
            w_old += signature_of(own.tonic_pc, own.mode) == want
            w_new += signature_of(key.tonic_pc, key.mode) == want
        multi["windows"] += len(spans)
        multi["win_old"] += w_old
        multi["win_new"] += w_new
        multi["pieces"].append(
            {
                "id": entry["id"],
                "signatures": [[round(t / bar_q) + 1, s] for t, s in changes],  # [bar, sharps]
                "whole_estimate": whole.name,
                "global_key": a.key.name,
                "key_changes": [c.to_dict() for c in a.key_changes],
                "windows": len(spans),
                "windows_right_old": w_old,
                "windows_right_new": w_new,
            }
        )
    return {"single_key": single, "multi_section": multi}


def print_sections(report: dict, seconds: float) -> None:
    s, m = report["single_key"], report["multi_section"]

    def pct(a, b):
        return f"{100 * a / b:.1f}%" if b else "-"

    print(f"single-key pieces: {s['pieces']}")
    n_single = s["pieces"]
    print(f"  global key   estimate_key {pct(s['global_old'], n_single)}   governing {pct(s['global_new'], n_single)}")
    print(f"  pieces with a key change reported: {s['with_changes']} ({pct(s['with_changes'], s['pieces'])})")
    print(f"  windows ({s['windows']}) in the piece's key: own notes {pct(s['win_old'], s['windows'])}"
          f"   key section {pct(s['win_new'], s['windows'])}")  # fmt: skip
    n = len(m["pieces"])
    print(f"\nmulti-section scores: {n} (judged by key signature)")
    print(f"  global key   estimate_key {pct(m['global_old'], n)}   governing {pct(m['global_new'], n)}")
    print(f"  signature changes found within 2 bars: {m['found']} of {m['true_changes']}", end="")
    print(f"; changes reported {m['reported']}")
    print(f"  windows ({m['windows']}) in their section's signature: own notes {pct(m['win_old'], m['windows'])}"
          f"   key section {pct(m['win_new'], m['windows'])}")  # fmt: skip
    for p in m["pieces"]:
        changes = ", ".join(f"bar {c['bar']} {c['from']} -> {c['to']}" for c in p["key_changes"]) or "none"
        print(f"  {p['id']:<34} signatures {p['signatures']}  whole {p['whole_estimate']:<9}"
              f"  global {p['global_key']:<9}  changes: {changes}")  # fmt: skip
    print(f"\n{seconds:.0f} s")


# ---------------------------------------------------------------- tuning

# Second stage: the first (Temperley weight 0-1, final 0-0.45, first 0-0.1, final third 0-0.2, ending
# 0-1, whole pieces only) settled on Temperley alone and no ending weight; this one adds 8-bar clips.
TUNING_GRID = {
    "temperley_weight": (0.75, 1.0),
    "final_weight": (0.0, 0.05, 0.1, 0.15, 0.2, 0.3),
    "first_weight": (0.0, 0.05, 0.1, 0.2),
    "final_chord_weight": (0.0, 0.1),
    "ending_weight": (0.0, 0.25),
}
TUNING_CLIP_BARS = 8


def _feature_set(items: list[Item]):
    import numpy as np

    rows = [(it, key_features(it.piece.notes)) for it in items if not it.held_out and not it.truth.is_modal]
    rows = [(it, f) for it, f in rows if f is not None]
    feats = {
        "histogram": np.stack([f.histogram for _, f in rows]),
        "ending": np.stack([f.ending for _, f in rows]),
        "first_bass": np.array([f.first_bass for _, f in rows]),
        "final_bass": np.array([f.final_bass for _, f in rows]),
        "final_third": np.array([f.final_third for _, f in rows]),
    }
    truth = np.array([it.truth.tonic_pc + 12 * (it.truth.guess == "minor") for it, _ in rows])
    chorale = np.array([it.collection == "chorales" for it, _ in rows])
    return feats, truth, chorale


def tune(items: list[Item], top: int = 8) -> list[dict]:
    """Grid search on the tuning half only. Objective: the mean key accuracy over folk tunes and chorales,
    each as whole pieces and as 8-bar clips (the corpus analyses clips; a clip often ends on a half cadence)."""
    import itertools

    import numpy as np

    sets = {"whole": _feature_set(items), "clips": _feature_set(clips(items, TUNING_CLIP_BARS))}
    results = []
    names = list(TUNING_GRID)
    for values in itertools.product(*(TUNING_GRID[n] for n in names)):
        params = KeyParams(**dict(zip(names, values)), temperature=DEFAULT_PARAMS.temperature)
        scores = {}
        for name, (feats, truth, chorale) in sets.items():
            ok = score_keys(**feats, params=params).reshape(len(truth), 24).argmax(axis=1) == truth
            scores[f"{name} folk"] = float(ok[~chorale].mean()) if (~chorale).any() else float("nan")
            scores[f"{name} chorales"] = float(ok[chorale].mean()) if chorale.any() else float("nan")
        objective = float(np.nanmean(list(scores.values())))
        results.append({"params": dict(zip(names, values)), **scores, "objective": objective})
    results.sort(key=lambda r: -r["objective"])
    return results[:top]


def load_items(collections: list[str], limit: int | None, cache: Path) -> tuple[list[Item], dict]:
    items: list[Item] = []
    skipped: dict = {}
    for c in collections:
        got, why = load_chorales(limit, cache) if c == "chorales" else load_folk(c, limit)
        items += got
        if why:
            skipped[c] = dict(why)
    return items, skipped


def print_report(summary: dict, skipped: dict, seconds: float) -> None:
    print(f"{'collection':<24}{'n':>7}{'key':>8}{'tonic':>8}{'tuning':>9}{'held-out':>10}")
    for name, a in summary["collections"].items():
        print(
            f"{name:<24}{a['n']:>7}{_pct(a['key']):>8}{_pct(a['tonic']):>8}"
            f"{_pct(a['key_tuning_half']):>9}{_pct(a['key_held_out_half']):>10}"
        )
    if summary["modal"]:
        print("\nmodal tunes (key = tonic + major/minor guess of the mode)")
        for name, a in summary["modal"].items():
            print(f"{name:<24}{a['n']:>7}{_pct(a['key']):>8}{_pct(a['tonic']):>8}")
    print("\nerrors by relation:", ", ".join(f"{k} {v}" for k, v in summary["relations"].items()))
    print("top confusions:")
    for c in summary["confusions"]:
        print(f"  {c['truth']:<16} -> {c['estimate']:<16} {c['count']}")
    if skipped:
        print("\nskipped:", json.dumps(skipped))
    print(f"\n{seconds:.0f} s")


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="at most N pieces per collection")
    parser.add_argument("--collections", default=",".join(ALL_COLLECTIONS), help="comma-separated subset")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/midibridge-bench-cache"), help="chorale MIDI cache")
    parser.add_argument("--clip-bars", type=int, default=None, help="score N-bar clips instead of whole pieces")
    parser.add_argument("--tune", action="store_true", help="grid-search KeyParams on the tuning half")
    parser.add_argument("--rows", type=Path, default=None, help="also write one JSON line per piece here")
    parser.add_argument("--sections", action="store_true", help="score key sections, global keys and window keys")
    args = parser.parse_args(argv)
    info = announce()
    t0 = time.perf_counter()
    collections = [c.strip() for c in args.collections.split(",") if c.strip()]
    unknown = set(collections) - set(ALL_COLLECTIONS)
    if unknown:
        parser.error(f"unknown collections {sorted(unknown)}; known: {', '.join(ALL_COLLECTIONS)}")
    items, skipped = load_items(collections, args.limit, args.cache)
    if args.sections:
        report = evaluate_sections(items, args.cache)
        if args.json:
            print(json.dumps({**report, "run": info}, indent=2))
        else:
            print_sections(report, time.perf_counter() - t0)
        return 0
    if args.clip_bars:
        items = clips(items, args.clip_bars)
    if args.tune:
        for r in tune(items):
            scores = " ".join(f"{k} {v:.4f}" for k, v in r.items() if k not in ("params", "objective"))
            print(f"{r['objective']:.4f} {scores} {r['params']}")
        return 0
    rows = evaluate(items)
    summary = summarise(rows)
    if args.rows:
        args.rows.write_text("".join(json.dumps(r) + "\n" for r in rows))
    if args.json:
        print(json.dumps({"summary": summary, "skipped": skipped, "run": info}, indent=2))
    else:
        print_report(summary, skipped, time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
