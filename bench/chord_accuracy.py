"""Chord-recognition accuracy of `bridge.analysis` against the music21 corpus's Roman-numeral analyses.

Each `.rntxt` file (20 Bach chorales by Riemenschneider number, 48 Monteverdi madrigals) is an expert
analysis of a score in the same corpus. The score's notes become our `Piece`, `analyze_piece`
labels its chords (per beat, with its own key estimate), and every analysed span is compared with the
chord we report at each sixteenth inside it, so scores are weighted by time:

- root: our root pitch class equals the analysis's root;
- root+quality: also the same quality among ours (major ... diminished7); spans whose analysed chord is
  none of our qualities (augmented sixths, chords with omitted tones) count for the root score only;
- triad level: the same, with sevenths reduced to their triads (V7 vs V counts as right);
- bass: our bass pitch class equals the analysis's (inversion right);
- degree (the Roman numeral's root): our root's degree in the key we number the chord in equals the
  analysis's degree in its key in force; `degree_global_key` counts ours against the piece's one key, and
  `key_in_force` how often our key (tonic and mode) is the analysis's.

Files are split into a tuning half and a held-out half by a hash of their name; both are reported.

    .venv/bin/python bench/chord_accuracy.py [--limit N] [--json] [--only bach|monteverdi]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run_info, also when imported by path (tests)
from run_info import announce  # noqa: E402

from bridge.analysis import analyze_piece  # noqa: E402
from bridge.analysis.chords import ChordParams  # noqa: E402
from bridge.analysis.qualities import QUALITIES, chord_tones  # noqa: E402
from bridge.music import NoteList, Piece, TimeSignature  # noqa: E402

TRIAD_OF = {
    "dominant7": "major",
    "major7": "major",
    "minor7": "minor",
    "half-diminished7": "diminished",
    "diminished7": "diminished",
}
SAMPLE = 0.25  # quarters between comparison points


@dataclass(frozen=True)
class Span:
    start: float
    duration: float
    root_pc: int
    quality: str | None  # None: not one of our qualities
    bass_pc: int
    figure: str
    key_pc: int = -1  # the analysis's key in force (tonic pitch class, mode)
    key_mode: str = ""


def corpus_dir() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"


def rntxt_files() -> list[Path]:
    return sorted(corpus_dir().rglob("*.rntxt"), key=lambda p: (p.parent.name, _natural(p.name)))


def _natural(name: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def quality_of(root_pc: int, pitch_classes: set[int]) -> str | None:
    for q in QUALITIES:
        if set(chord_tones(root_pc, q.name)) == pitch_classes:
            return q.name
    return None


def score_for(rntxt: Path):
    """The score an analysis describes: a Bach chorale by Riemenschneider number, or the madrigal beside it."""
    from music21 import converter, corpus

    header = re.search(r"^BWV:\s*([\d.]+)", rntxt.read_text(encoding="utf-8", errors="replace"), re.MULTILINE)
    if header:
        return corpus.parse(f"bach/bwv{header.group(1)}")
    return converter.parse(rntxt.with_suffix(".mxl"))


def analysis_spans(rntxt: Path) -> list[dict]:
    """The analysis's chords by measure number and offset inside the measure, as the analyst counted."""
    from music21 import converter, roman

    analysis = converter.parse(rntxt, format="romantext")
    spans = []
    for m in analysis.parts[0].getElementsByClass("Measure"):
        for rn in m.getElementsByClass(roman.RomanNumeral):
            if rn.quarterLength <= 0:
                continue
            root = rn.root().pitchClass
            spans.append(
                {
                    "measure": int(m.number),
                    "offset": float(rn.offset),
                    "length": float(rn.quarterLength),
                    "measure_length": float(m.duration.quarterLength),
                    "root_pc": root,
                    "quality": quality_of(root, {p.pitchClass for p in rn.pitches}),
                    "bass_pc": rn.bass().pitchClass,
                    "figure": rn.figure,
                    "key_pc": rn.key.tonic.pitchClass,
                    "key_mode": "minor" if rn.key.mode == "minor" else "major",
                }
            )
    return spans


def parts_agree(score) -> bool:
    """Whether every part puts every measure at the same time. Some corpus madrigals have overfull
    measures in single parts, so their voices drift apart and no analysis can line up with them."""
    maps = [[(int(m.number), float(m.offset)) for m in part.getElementsByClass("Measure")] for part in score.parts]
    return all(m == maps[0] for m in maps[1:])


def measure_map(score) -> dict[int, tuple[float, float]]:
    """Measure number -> (offset, length) in the score, the same time line as its MIDI export."""
    out = {}
    for m in score.parts[0].getElementsByClass("Measure"):
        out.setdefault(int(m.number), (float(m.offset), float(m.duration.quarterLength)))
    return out


def place(raw: list[dict], measures: dict[int, tuple[float, float]]) -> list[Span]:
    """Spans on the score's time line. Aligning by measure number survives analyses that skip measures;
    a score measure longer than the analysis's (some madrigal bars are 8 quarters under a 4/4 signature)
    stretches its beats in proportion."""
    spans = []
    for r in raw:
        if r["measure"] not in measures:
            continue
        offset, length = measures[r["measure"]]
        scale = length / r["measure_length"] if r["measure_length"] > 0 else 1.0
        start = offset + r["offset"] * scale
        stop = min(offset + (r["offset"] + r["length"]) * scale, offset + length)
        if stop > start:
            spans.append(Span(start, stop - start, r["root_pc"], r["quality"], r["bass_pc"], r["figure"],
                              r["key_pc"], r["key_mode"]))
    return spans


def score_notes(score) -> dict:
    """Notes and meters read straight from the music21 score, on the score's own time line. (Its MIDI
    export would expand repeats, and the analysis counts measures as written.)"""
    notes = []
    for track, part in enumerate(score.parts):
        for n in part.flatten().stripTies().notes:
            for p in n.pitches:
                if n.quarterLength > 0:
                    notes.append([float(n.offset), float(n.quarterLength), int(p.midi), track])
    meters = [
        [float(ts.offset), ts.numerator, ts.denominator]
        for ts in score.parts[0].flatten().getElementsByClass("TimeSignature")
    ]
    return {"notes": notes, "meters": meters or [[0.0, 4, 4]]}


def to_piece(data: dict) -> Piece:
    cols = list(zip(*data["notes"]))
    n = len(data["notes"])
    notes = NoteList.from_columns(cols[0], cols[1], cols[2], [80] * n, [0] * n, [False] * n, cols[3])
    meters = {round(t, 6): TimeSignature(t, num, den) for t, num, den in data["meters"]}
    return Piece(notes=notes, time_signatures=tuple(meters[k] for k in sorted(meters)))


def load_pair(rntxt: Path, cache: Path) -> tuple[Piece, list[Span]]:
    """Parse with music21 once (seconds per file), then reuse the cached notes, analysis and measure map."""
    cache.mkdir(parents=True, exist_ok=True)
    js = cache / f"{rntxt.parent.name}__{rntxt.stem}{CACHE_VERSION}.json"
    if not js.exists():
        score = score_for(rntxt)
        data = {
            "spans": analysis_spans(rntxt),
            "measures": measure_map(score),
            "consistent": parts_agree(score),
            **score_notes(score),
        }
        js.write_text(json.dumps(data))
    data = json.loads(js.read_text())
    measures = {int(k): tuple(v) for k, v in data["measures"].items()}
    piece = to_piece(data)
    spans = place(data["spans"], measures)
    shift = edition_shift(piece, spans)
    if shift:
        spans = [replace(s, root_pc=(s.root_pc + shift) % 12, bass_pc=(s.bass_pc + shift) % 12,
                         key_pc=(s.key_pc + shift) % 12) for s in spans]
    return piece, spans


CACHE_VERSION = "-v2"  # v2: spans carry the analysis's key in force
MIN_CHORD_TONE_FIT = 0.7  # matching scores: 0.84-0.97; riemenschneider011 (BWV 41.6s): 0.50


def unusable_reason(rntxt: Path, cache: Path) -> str | None:
    """Why a corpus score cannot be checked against its analysis, or None when it can."""
    piece, spans = load_pair(rntxt, cache)
    if not json.loads((cache / f"{rntxt.parent.name}__{rntxt.stem}{CACHE_VERSION}.json").read_text())["consistent"]:
        return "voices drift apart in the corpus score"
    if chord_tone_fit(piece, spans) < MIN_CHORD_TONE_FIT:
        return "the corpus score is not the analysed one (few notes are chord tones of the analysis)"
    return None


def chord_tone_fit(piece: Piece, spans: list[Span]) -> float:
    """Share of the sounding note time inside analysed spans that belongs to the analysed chord."""
    n = piece.notes
    total = inside = 0.0
    for s in spans:
        if s.quality is None:
            continue
        overlap = np.clip(np.minimum(n.end, s.start + s.duration) - np.maximum(n.start, s.start), 0.0, None)
        total += overlap.sum()
        inside += overlap[np.isin(n.pitch % 12, list(chord_tones(s.root_pc, s.quality)))].sum()
    return inside / total if total > 0 else 0.0


def edition_shift(piece: Piece, spans: list[Span]) -> int:
    """Semitones from the analysed edition to the corpus score. A few corpus chorales are printed in
    another key than the edition the analysis follows (Riemenschneider 14 and 17); the shift that best
    matches the analysis's chord tones to the score's notes (never our chord labels) undoes it."""
    analysed = np.zeros(12)
    for s in spans:
        if s.quality is not None:
            analysed[list(chord_tones(s.root_pc, s.quality))] += s.duration
    sounding = np.bincount(piece.notes.pitch % 12, weights=piece.notes.duration, minlength=12)
    fits = [np.corrcoef(np.roll(analysed, k), sounding)[0, 1] for k in range(12)]
    return int(np.argmax(fits))


def our_chords(piece: Piece, params: ChordParams | None = None):
    if params is None:
        return analyze_piece(piece).chords
    from bridge.analysis.chords import label_chords
    from bridge.analysis.key import estimate_key
    from bridge.analysis.meter import subdivided_bar_grid

    grid = subdivided_bar_grid(piece, "beat")
    return label_chords(piece.notes.pitched(), grid, estimate_key(piece.notes), params)


def our_keys(analysis, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(tonic pc, mode) of the key each of `times` is numbered in, as analyze_piece labels chords."""
    from bridge.analysis.chords import window_keys
    from bridge.analysis.piece import numbering_sections

    keys, key_of = window_keys(times, analysis.key, numbering_sections(analysis.key_sections))
    return np.array([k.tonic_pc for k in keys])[key_of], np.array([k.mode for k in keys])[key_of]


_Q_INDEX = {q.name: i for i, q in enumerate(QUALITIES)}
_TRIAD_INDEX = np.array([_Q_INDEX[TRIAD_OF.get(q.name, q.name)] for q in QUALITIES] + [-2])


def compare(piece: Piece, spans: list[Span], params: ChordParams | None = None, confusions: bool = True) -> Counter:
    """Time-weighted agreement counts between our chords and the analysis (units: sixteenths)."""
    analysis = analyze_piece(piece) if params is None else None
    chords = analysis.chords if analysis is not None else our_chords(piece, params)
    lengths = np.array([max(0, int(np.ceil(s.duration / SAMPLE - 0.5))) for s in spans])
    span_idx = np.repeat(np.arange(len(spans)), lengths)
    first = np.cumsum(lengths) - lengths
    span_start = np.array([s.start for s in spans])
    t = span_start[span_idx] + SAMPLE / 2 + SAMPLE * (np.arange(len(span_idx)) - first[span_idx])
    counts: Counter = Counter(samples=len(t))
    if not chords or not len(t):
        counts["no_chord"] += len(t)
        return counts
    starts = np.array([c.start for c in chords])
    ends = starts + np.array([c.duration for c in chords])
    j = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(chords) - 1)
    covered = (t >= starts[j]) & (t < ends[j])
    counts["no_chord"] += int((~covered).sum())
    j, span_idx = j[covered], span_idx[covered]
    our_root = np.array([c.root_pc for c in chords])[j]
    our_q = np.array([_Q_INDEX[c.quality] for c in chords])[j]
    our_bass = np.array([c.bass_pc for c in chords])[j]
    their_root = np.array([s.root_pc for s in spans])[span_idx]
    their_q = np.array([_Q_INDEX.get(s.quality, -1) for s in spans])[span_idx]
    their_bass = np.array([s.bass_pc for s in spans])[span_idx]
    root_ok = our_root == their_root
    typed = their_q >= 0
    if analysis is not None:  # the key each of our chords is numbered in, against the analysis's key in force
        ours_in = our_keys(analysis, np.array([c.start for c in chords])[j])
        global_pc = analysis.key.tonic_pc
        their_key = np.array([s.key_pc for s in spans])[span_idx]
        their_mode = np.array([s.key_mode for s in spans])[span_idx]
        their_degree = (their_root - their_key) % 12
        counts["keyed"] += int((their_key >= 0).sum())
        counts["key"] += int(((ours_in[0] == their_key) & (ours_in[1] == their_mode)).sum())
        counts["degree"] += int(((our_root - ours_in[0]) % 12 == their_degree).sum())
        counts["degree_global_key"] += int(((our_root - global_pc) % 12 == their_degree).sum())
    same = our_q == their_q
    counts["root"] += int(root_ok.sum())
    counts["bass"] += int((our_bass == their_bass).sum())
    counts["typed"] += int(typed.sum())
    counts["root_quality"] += int((root_ok & same & typed).sum())
    counts["root_triad"] += int((root_ok & typed & (_TRIAD_INDEX[our_q] == _TRIAD_INDEX[their_q])).sum())
    if confusions:
        wrong = typed & ~(root_ok & same)
        for tq, oq, r in zip(their_q[wrong], our_q[wrong], root_ok[wrong]):
            counts[f"confusion {QUALITIES[tq].name} -> {QUALITIES[oq].name}{'' if r else ' (root)'}"] += 1
    return counts


def held_out(path: Path) -> bool:
    return hashlib.md5(path.stem.encode()).digest()[0] % 2 == 1


def rates(c: Counter) -> dict:
    samples, typed = max(c["samples"], 1), max(c["typed"], 1)
    return {
        "samples": c["samples"],
        "root": round(c["root"] / samples, 4),
        "root_quality": round(c["root_quality"] / typed, 4),
        "root_triad": round(c["root_triad"] / typed, 4),
        "bass": round(c["bass"] / samples, 4),
        "no_chord": round(c["no_chord"] / samples, 4),
        # Roman numerals: our root's degree in the key we number it in vs the analysis's in its key in force
        "degree": round(c["degree"] / max(c["keyed"], 1), 4),
        "degree_global_key": round(c["degree_global_key"] / max(c["keyed"], 1), 4),
        "key_in_force": round(c["key"] / max(c["keyed"], 1), 4),
    }


def evaluate(files: list[Path], cache: Path, params: ChordParams | None = None) -> dict:
    groups: dict[str, Counter] = {}
    per_file = {}
    excluded = {}
    for f in files:
        reason = unusable_reason(f, cache)
        if reason:
            excluded[f.stem] = reason
            continue
        piece, spans = load_pair(f, cache)
        c = compare(piece, spans, params)
        per_file[f.stem] = rates(c)
        collection = "bach" if "riemenschneider" in f.stem else "monteverdi"
        for g in (collection, "all", "all/held-out" if held_out(f) else "all/tuning"):
            groups.setdefault(g, Counter()).update(c)
    confusions = Counter({k[len("confusion ") :]: v for k, v in groups.get("all", Counter()).items()
                          if k.startswith("confusion ")})  # fmt: skip
    return {
        "groups": {g: rates(c) for g, c in sorted(groups.items())},
        "files": per_file,
        "confusions": dict(confusions.most_common(12)),
        "excluded": excluded,
    }


# Second stage of the search: the first (seventh 0.02-0.2, missing 0.15-0.6, offbeat 0.3-1, bass 0-0.3,
# diatonic 0-0.08, rare 0.04-0.2) ended on the edges of its grid, so this one extends past them.
TUNING_GRID = {
    "seventh_penalty": (0.2, 0.3, 0.45),
    "missing_penalty": (0.0, 0.08, 0.15),
    "offbeat_weight": (0.6,),
    "bass_weight": (0.0, 0.15),
    "diatonic_bonus": (0.08, 0.12, 0.18),
    "rare_penalty": (0.2, 0.35, 1.0),
}


def tune(files: list[Path], cache: Path, top: int = 8) -> list[dict]:
    """Grid search on the tuning half of the analyses; objective = root+quality accuracy."""
    import itertools

    pairs = [load_pair(f, cache) for f in files if not held_out(f) and unusable_reason(f, cache) is None]
    names = list(TUNING_GRID)
    results = []
    for values in itertools.product(*(TUNING_GRID[n] for n in names)):
        params = ChordParams(**dict(zip(names, values)))
        total: Counter = Counter()
        for piece, spans in pairs:
            total.update(compare(piece, spans, params, confusions=False))
        results.append({"params": dict(zip(names, values)), **rates(total)})
    results.sort(key=lambda r: -r["root_quality"])
    return results[:top]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="at most N analyses")
    parser.add_argument("--only", choices=("bach", "monteverdi"), default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/midibridge-bench-cache/rntxt"))
    parser.add_argument("--tune", action="store_true", help="grid-search ChordParams on the tuning half")
    args = parser.parse_args(argv)
    info = announce()
    t0 = time.perf_counter()
    files = rntxt_files()
    if args.only:
        files = [f for f in files if ("riemenschneider" in f.stem) == (args.only == "bach")]
    files = files[: args.limit] if args.limit else files
    if args.tune:
        for r in tune(files, args.cache):
            print(f"root+q {r['root_quality']:.4f} root {r['root']:.4f} bass {r['bass']:.4f} {r['params']}")
        return 0
    result = evaluate(files, args.cache)
    if args.json:
        print(json.dumps({**result, "run": info}, indent=2))
        return 0
    print(f"{'group':<18}{'samples':>9}{'root':>8}{'root+q':>8}{'triad':>8}{'bass':>8}{'none':>7}")
    for g, r in result["groups"].items():
        print(
            f"{g:<18}{r['samples']:>9}{100 * r['root']:>7.1f}%{100 * r['root_quality']:>7.1f}%"
            f"{100 * r['root_triad']:>7.1f}%{100 * r['bass']:>7.1f}%{100 * r['no_chord']:>6.1f}%"
        )
    print("top confusions (analysis -> ours, in sixteenths):")
    for k, v in result["confusions"].items():
        print(f"  {k:<40}{v}")
    for reason in sorted(set(result["excluded"].values())):
        names = [k for k, v in result["excluded"].items() if v == reason]
        print(f"excluded, {reason}: {', '.join(names)}")
    print(f"{len(files) - len(result['excluded'])} of {len(files)} analyses, {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
