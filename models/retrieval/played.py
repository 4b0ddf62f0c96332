"""Played-phrase benchmark: query by playing against held-out clips, beside a symbolic baseline.

Each query is a 2-4-bar excerpt from anywhere in a held-out clip (a random bar), performed as a pianist
would play it into "midibridge in": every note on piano (drums left out), tempo ×0.75-1.33 of the clip's,
velocities ±15, onsets ±20 ms, and, with `transpose`, moved ±3 semitones. The performance (seconds and
MIDI bytes) goes through the daemon's own `PhraseCapture`, so its tempo and beat come from the notes as
at run time. Every clip of the split is a candidate, cut into the library's windows (8 bars, hop 4),
and scores its best window:

- shipped: what `Library.search(like_piece=..., transpose=True)` ranks by: the melodic match of the
  phrase's skyline interval n-grams in each window at its best transposition (bridge.analysis.melody),
  plus `ranking.MELODY_COSINE_WEIGHT` of the MIDI tower's cosine (searched at every shift -5..+6);
- model: the MIDI tower alone (the phrase at every shift -5..+6, each window keeping its best);
- melody_only: the melodic stage alone (no model);
- interval_ngrams: the classic query-by-humming baseline over whole clips: the skyline's pitch-interval
  3- to 5-grams, scored by the share of the query's found in the clip (multiset), transposition- and
  tempo-invariant by design.

Ranks count ties half (models.retrieval.metrics). "source passage" (the headline) accepts the source clip
or a copy of the same bars of the same piece (the corpus re-orchestrates, transposes and adds grooves to
clips: those hold the same notes, and no melody can tell them apart); "source clip" is strict; "source
piece" accepts any clip of the piece.
Torch-free: runs on the ONNX encoders.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bridge.analysis.melody import MelodyIndex, piece_melody
from bridge.library import ranking
from bridge.library.windows import window_spans
from bridge.midi.capture import PhraseCapture
from bridge.music import MidiFileError, Piece, load_midi
from models.retrieval.data import read_clips
from models.retrieval.metrics import ranks_from_scores

log = logging.getLogger(__name__)

RATE = 48000
TEMPO_FACTORS = (0.75, 1.33)
VELOCITY_JITTER = 15
ONSET_JITTER_S = 0.020
TRANSPOSE_RANGE = 3
EXCERPT_BARS = (2, 4)
MIN_NOTES = 6
NGRAMS = (3, 4, 5)
HYBRID_WEIGHTS = tuple(sorted({0.0, 0.05, 0.1, 0.25, 0.5, 1.0, ranking.MELODY_COSINE_WEIGHT}))  # cosine weights tried


def _bars(location: str) -> str:
    """The bar span in a corpus clip's name ("__b12-16"): copies of one passage (other instrument, key,
    groove) share it."""
    m = re.search(r"__b(\d+)-(\d+)", location)
    return m.group(0) if m else location


# ---- the performance ----------------------------------------------------------------------------------

def excerpt(piece: Piece, rng: np.random.Generator) -> tuple[Piece, tuple[int, int]] | None:
    """2-4 whole bars from a random bar of the clip (pitched notes only); None when too few notes."""
    starts = piece.bar_starts(until=piece.end)
    bounds = np.append(starts, max(piece.end, float(starts[-1]) + 1e-6))
    n_bars = len(starts)
    for _ in range(8):
        bars = int(rng.integers(EXCERPT_BARS[0], EXCERPT_BARS[1] + 1))
        bars = min(bars, n_bars)
        first = int(rng.integers(0, n_bars - bars + 1))
        part = piece.window(float(bounds[first]), float(bounds[first + bars]))
        part = part.with_notes(part.notes.take(~part.notes.is_drum))
        if len(part.notes) >= MIN_NOTES:
            return part, (first, first + bars)
    return None


def perform(part: Piece, bpm: float, rng: np.random.Generator, shift: int) -> list[tuple[float, bytes]]:
    """(seconds, MIDI bytes) of a pianist playing `part` at `bpm`: velocity and onset jitter, moved `shift`."""
    n = part.notes
    beat = 60.0 / bpm
    on = n.start * beat + rng.uniform(-ONSET_JITTER_S, ONSET_JITTER_S, len(n))
    on = on - min(0.0, float(on.min())) if len(n) else on
    off = np.maximum(on + n.duration * beat * rng.uniform(0.85, 1.0, len(n)), on + 0.03)
    pitch = n.pitch.astype(np.int64) + shift
    pitch = np.where(pitch > 108, pitch - 12, np.where(pitch < 21, pitch + 12, pitch))
    vel = np.clip(n.velocity.astype(np.int64) + rng.integers(-VELOCITY_JITTER, VELOCITY_JITTER + 1, len(n)), 1, 127)
    events = []
    for t0, t1, p, v in zip(on, off, pitch, vel):
        events.append((float(t0), bytes([0x90, int(p), int(v)])))
        events.append((float(t1), bytes([0x80, int(p), 0])))
    # Note-offs before note-ons at the same time, like a keyboard releasing a key to strike it again.
    events.sort(key=lambda e: (e[0], e[1][0] == 0x90))
    return events


def capture(events: list[tuple[float, bytes]], clock_bpm: float = 120.0) -> Piece | None:
    """The phrase the daemon would capture from these events (its beat from the notes, not `clock_bpm`)."""
    cap = PhraseCapture(RATE, bpm=lambda: clock_bpm)
    base = RATE  # a second in
    last = base
    for seconds, data in events:
        last = base + int(round(seconds * RATE))
        cap.feed(last, data)
    return cap.finish(last)


# ---- the symbolic baseline ----------------------------------------------------------------------------

def interval_ngrams(melody: np.ndarray) -> Counter:
    iv = np.clip(np.diff(melody), -12, 12)
    grams: Counter = Counter()
    for n in NGRAMS:
        for i in range(len(iv) - n + 1):
            grams[(n, *iv[i : i + n].tolist())] += 1
    return grams


def ngram_scores(query: Counter, candidates: list[Counter]) -> np.ndarray:
    """Share of the query's interval n-grams (multiset, longer grams weighing more) found in each candidate."""
    total = sum(c * q[0] for q, c in query.items()) or 1
    return np.array([sum(min(c, cand.get(q, 0)) * q[0] for q, c in query.items()) / total
                     for cand in candidates])


# ---- the benchmark ------------------------------------------------------------------------------------

def _summary(ranks: np.ndarray) -> dict:
    ranks = np.asarray(ranks, dtype=np.float64)
    return {"n": int(len(ranks)), "top1": float(np.mean(ranks <= 1)), "top3": float(np.mean(ranks <= 3)),
            "top10": float(np.mean(ranks <= 10)), "MRR": float(np.mean(1.0 / ranks)),
            "median_rank": float(np.median(ranks))}


def _tempo_level(estimated: float, true: float) -> str:
    r = estimated / true
    for name, level in (("same", 1.0), ("double", 2.0), ("half", 0.5), ("x1.5", 1.5), ("x2/3", 2 / 3),
                        ("triple", 3.0), ("third", 1 / 3)):
        if abs(np.log(r / level)) <= np.log(1.04):
            return name
    return "other"


def evaluate_played(
    encoders,
    data_dir: str | Path,
    split: str = "test",
    queries: int = 200,
    transpose: bool = True,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    max_clips: int = 0,
) -> dict:
    """Top-1/top-3/MRR of the source passage, clip and piece for played excerpts of the split's clips: the
    shipped search by example, the MIDI tower alone, the melodic stage alone and the interval n-gram baseline."""
    data_dir = Path(data_dir)
    note = progress or (lambda msg: log.info(msg))
    rng = np.random.default_rng(seed)
    clips = [c for c in read_clips(data_dir) if c.split == split]
    if not clips:
        raise ValueError(f"no clips in split {split!r} of {data_dir}")
    if max_clips and len(clips) > max_clips:
        clips = [clips[i] for i in sorted(rng.permutation(len(clips))[:max_clips])]
    note(f"reading {len(clips)} {split} clips")
    pieces: list[Piece] = []
    kept = []
    for c in clips:
        try:
            pieces.append(load_midi(data_dir / c.location))
            kept.append(c)
        except (MidiFileError, OSError) as e:
            log.info("skipping %s: %s", c.location, e)
    clips = kept
    piece_of = np.array([c.piece_id for c in clips])
    passage_of = np.array([f"{c.piece_id}@{_bars(c.location)}" for c in clips])

    # Candidates: the library's windows of every clip.
    windows, window_clip = [], []
    for i, p in enumerate(pieces):
        for span in window_spans(p):
            windows.append(p.window(span.start_q, span.stop_q))
            window_clip.append(i)
    window_clip = np.asarray(window_clip)
    note(f"encoding {len(windows)} windows of {len(clips)} clips")
    t0 = time.perf_counter()
    window_vecs = np.concatenate([encoders.encode_pieces(windows[i : i + 64]) for i in range(0, len(windows), 64)])
    encode_s = time.perf_counter() - t0
    melodies = [interval_ngrams(piece_melody(p)) for p in pieces]
    melody_index = MelodyIndex.build([piece_melody(w) for w in windows])

    note(f"performing and searching {queries} played phrases (transpose {'on' if transpose else 'off'})")
    shifts = ranking.TRANSPOSE_SHIFTS if transpose else (0,)
    model_scores, base_scores, targets, tempo_levels, found_shift, query_ms = [], [], [], Counter(), [], []
    melody_scores, hybrid_scores, hybrid_shift_ok = [], {lam: [] for lam in HYBRID_WEIGHTS}, []
    details = []
    order = rng.permutation(len(clips))
    attempts = 0
    while len(targets) < queries and attempts < 5 * queries:
        i = int(order[attempts % len(order)])
        attempts += 1
        cut = excerpt(pieces[i], rng)
        if cut is None:
            continue
        part, bars = cut
        clip_bpm = float(pieces[i].tempo_at(0.0))
        factor = float(np.exp(rng.uniform(np.log(TEMPO_FACTORS[0]), np.log(TEMPO_FACTORS[1]))))
        shift = int(rng.integers(-TRANSPOSE_RANGE, TRANSPOSE_RANGE + 1)) if transpose else 0
        phrase = capture(perform(part, clip_bpm * factor, rng, shift))
        if phrase is None or len(phrase.notes) < MIN_NOTES:
            continue
        tempo_levels[_tempo_level(float(phrase.tempo_at(0.0)), clip_bpm * factor)] += 1
        t1 = time.perf_counter()
        q = encoders.encode_pieces([ranking.transposed(phrase, s) for s in shifts])
        per_shift = q @ window_vecs.T  # (shifts, windows)
        score, best = ranking.best_shift(per_shift, shifts) if transpose else (per_shift[0], np.zeros(0))
        clip_score = np.full(len(clips), -np.inf)
        np.maximum.at(clip_score, window_clip, score)
        if transpose:
            w = np.nonzero(window_clip == i)[0]
            found_shift.append(int(best[w[np.argmax(score[w])]]) == -shift)
        model_scores.append(clip_score)
        mel, mel_shift = melody_index.score(piece_melody(phrase), transpose)
        query_ms.append((time.perf_counter() - t1) * 1000)  # the shipped search: tower at every shift + melody
        mel_clip = np.full(len(clips), -np.inf)
        np.maximum.at(mel_clip, window_clip, mel)
        melody_scores.append(mel_clip)
        cos_best = score
        for lam in HYBRID_WEIGHTS:
            h = ranking.example_score(cos_best, mel, lam)
            hc = np.full(len(clips), -np.inf)
            np.maximum.at(hc, window_clip, h)
            hybrid_scores[lam].append(hc)
        w = np.nonzero(window_clip == i)[0]
        h = ranking.example_score(cos_best, mel, ranking.MELODY_COSINE_WEIGHT)
        wi = w[np.argmax(h[w])]
        found = mel_shift[wi] if mel[wi] > 0 else (best[wi] if transpose else 0)
        hybrid_shift_ok.append(int(found) == -shift)
        base_scores.append(ngram_scores(interval_ngrams(piece_melody(phrase)), melodies))
        targets.append(i)
        details.append({"clip": clips[i].location, "bars": [bars[0] + 1, bars[1]], "clip_bpm": round(clip_bpm, 2),
                        "played_bpm": round(clip_bpm * factor, 2),
                        "estimated_bpm": round(float(phrase.tempo_at(0.0)), 2), "shift": shift})
    if not targets:
        raise ValueError(f"no clip of split {split!r} gave an excerpt of >= {MIN_NOTES} notes")
    targets_a = np.asarray(targets)
    strict = np.zeros((len(targets), len(clips)), dtype=bool)
    strict[np.arange(len(targets)), targets_a] = True
    same_piece = piece_of[None, :] == piece_of[targets_a][:, None]
    same_passage = passage_of[None, :] == passage_of[targets_a][:, None]
    methods = [("shipped", np.stack(hybrid_scores[ranking.MELODY_COSINE_WEIGHT])),
               ("model", np.stack(model_scores)), ("melody_only", np.stack(melody_scores)),
               ("interval_ngrams", np.stack(base_scores))]
    results = {}
    for name, s in methods:
        results[name] = {"source_passage": _summary(ranks_from_scores(s, same_passage)),
                         "source_clip": _summary(ranks_from_scores(s, strict)),
                         "source_piece": _summary(ranks_from_scores(s, same_piece))}
    # The cosine's weight beside the melody (ranking.MELODY_COSINE_WEIGHT was chosen on the valid split).
    sweep = {f"{lam:g}": _summary(ranks_from_scores(np.stack(v), same_passage)) for lam, v in hybrid_scores.items()}
    model_ranks = ranks_from_scores(np.stack(model_scores), same_passage)
    shipped_ranks = ranks_from_scores(np.stack(hybrid_scores[ranking.MELODY_COSINE_WEIGHT]), same_passage)
    for d, r, r2 in zip(details, model_ranks, shipped_ranks):
        d["model_rank"], d["shipped_rank"] = float(r), float(r2)
    # The tower reads the first 128 ids of a window (its header and about 4 bars): does it find an excerpt
    # that starts the clip more often than one from later in it?
    at_start = np.array([d["bars"][0] == 1 for d in details])
    model_by_start = {name: _summary(model_ranks[sel]) for name, sel in (("first_bar", at_start),
                                                                          ("later", ~at_start)) if sel.any()}
    return {
        "split": split,
        "clips": len(clips),
        "windows": len(windows),
        "queries": len(targets),
        "transpose": transpose,
        "seed": seed,
        "performance": {"tempo_factor": list(TEMPO_FACTORS), "velocity_jitter": VELOCITY_JITTER,
                        "onset_jitter_ms": ONSET_JITTER_S * 1000, "transpose_range": TRANSPOSE_RANGE if transpose
                        else 0, "excerpt_bars": list(EXCERPT_BARS), "program": "piano (0)"},
        "tempo_estimate": {k: round(v / len(targets), 4) for k, v in tempo_levels.most_common()},
        "transpose_found": {"model": round(float(np.mean(found_shift)), 4) if found_shift else None,
                            "shipped": round(float(np.mean(hybrid_shift_ok)), 4) if transpose else None},
        "query_ms": {"p50": round(float(np.percentile(query_ms, 50)), 2),
                     "p99": round(float(np.percentile(query_ms, 99)), 2)},
        "window_encode_s": round(encode_s, 2),
        "results": results,
        "model_by_excerpt_start": model_by_start,
        "cosine_weight": ranking.MELODY_COSINE_WEIGHT,
        "cosine_weight_sweep": sweep,
        "worst": sorted(details, key=lambda d: -d["shipped_rank"])[:12],
    }


def format_played(report: dict) -> str:
    lines = ["| method | target | top-1 | top-3 | top-10 | MRR | median rank |", "|---|---|---|---|---|---|---|"]
    for method, targets in report["results"].items():
        for target, m in targets.items():
            lines.append(f"| {method} | {target.replace('_', ' ')} | {m['top1']:.3f} | {m['top3']:.3f} | "
                         f"{m['top10']:.3f} | {m['MRR']:.3f} | {m['median_rank']:.0f} |")
    return "\n".join(lines)
