"""Natural-query benchmark: the queries of `natural_queries` searched through the real library code over a
split's clips, three ways in one run, judged from the clips' labels and analysed key.

- features: no model; `ranking.feature_text_score` with what the text states and prefers folded in
  (`ranking.fold_score`), as `midibridge search` ranks without a retrieval model;
- embedding: the cosine between the text and each window alone (nothing parsed from the text);
- hybrid: the shipped ranking: the cosine with constraints and preferences folded in.

The split's clips are copied into a library folder under the cache dir and indexed with `Library.index`
(analysis and embeddings exactly as a user's files get them) under opaque names (`opaque_name`); a hit is a
file, the best window standing for it.

Metrics, per method: nDCG@10 with graded relevance (the share of a query's facets a clip has, hard and soft
alike, `natural_queries` docstring), constraint satisfaction@10 (the share of the hard facets, the ones the text
states, that the top 10 satisfy, over queries stating any) and preference satisfaction@10 (the same for soft
facets). Torch-free.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bridge.library import ranking
from bridge.query import parse_query
from models.retrieval.natural_queries import QUERIES

log = logging.getLogger(__name__)

HARD = ("key", "mode", "meter", "bpm", "instr")
SOFT = ("mood", "style", "tempo", "dyn", "texture")
K = 10
METHODS = ("features", "embedding", "hybrid")

_MINOR = {"minor", "dorian", "phrygian", "aeolian", "locrian"}
_MAJOR = {"major", "mixolydian", "lydian", "ionian"}
_PIANOS = {"Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano"}
_GUITARS = {"Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)", "Electric Guitar (clean)",
            "Electric Guitar (muted)", "Overdriven Guitar", "Distortion Guitar"}
INSTRUMENTS: dict[str, set[str]] = {
    "piano": _PIANOS, "fiddle": {"Violin", "Fiddle"}, "tin whistle": {"Whistle"}, "flute": {"Flute"},
    "pan flute": {"Pan Flute"}, "fife": {"Piccolo"}, "recorder": {"Recorder"}, "clarinet": {"Clarinet"},
    "oboe": {"Oboe"}, "bassoon": {"Bassoon"}, "harmonica": {"Harmonica"},
    "accordion": {"Accordion", "Tango Accordion"}, "concertina": {"Accordion", "Tango Accordion"},
    "harp": {"Orchestral Harp"}, "banjo": {"Banjo"}, "nylon guitar": {"Acoustic Guitar (nylon)"},
    "guitar": _GUITARS, "harpsichord": {"Harpsichord"},
    "organ": {"Church Organ", "Drawbar Organ", "Reed Organ", "Rock Organ", "Percussive Organ"},
    "choir": {"Choir Aahs"}, "voice": {"Voice Oohs", "Choir Aahs"}, "viola": {"Viola"}, "cello": {"Cello"},
    "trumpet": {"Trumpet"}, "trombone": {"Trombone"}, "tuba": {"Tuba"},
    "strings": {"Violin", "Viola", "Cello", "Contrabass", "String Ensemble 1", "String Ensemble 2"},
    "drums": {"Drums"},
    "bass": {"Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass", "Contrabass"},
}  # fmt: skip
MOODS = {"tender": {"tender", "calm"}}
TEMPI = {"fast": (120.0, np.inf), "slow": (0.0, 90.0), "moderate": (80.0, 120.0)}
DYNAMICS = {"soft": {"pp", "p", "mp"}, "loud": {"f", "ff"}}


def parse_facets(spec: str) -> list[tuple[str, str]]:
    out = []
    for part in spec.split(";"):
        name, _, value = part.strip().partition("=")
        if name not in HARD + SOFT or not value:
            raise ValueError(f"bad facet {part!r} (names: {', '.join(HARD + SOFT)})")
        out.append((name, value.strip()))
    return out


def _mode_class(mode: str) -> str | None:
    return "minor" if mode in _MINOR else "major" if mode in _MAJOR else None


def facet_ok(name: str, value: str, clip: dict) -> bool:
    """Whether a clip (its captions.jsonl record) has the facet."""
    if name == "key":
        tonic, mode = value.split()
        keys = [clip.get("key") or "", clip.get("analysis_key") or ""]
        return any(len(k.split()) == 2 and k.split()[0] == tonic and _mode_class(k.split()[1]) == mode
                   for k in keys)
    if name == "mode":
        return _mode_class(clip.get("mode") or "") == value
    if name == "meter":
        return clip.get("time_signature") == value
    if name in ("bpm", "tempo"):
        lo, hi = TEMPI[value] if name == "tempo" else map(float, value.split("-"))
        return lo <= float(clip.get("tempo") or 0.0) <= hi
    if name == "instr":
        return bool(INSTRUMENTS[value] & set(clip.get("instrument_summary") or ()))
    if name == "mood":
        return bool(MOODS.get(value, {value}) & set(clip.get("mood") or ()))
    if name == "style":
        text = " | ".join(str(clip.get(f) or "") for f in ("genre", "dance", "groove", "category")).lower()
        return value.lower() in text
    if name == "dyn":
        return clip.get("dynamics") in DYNAMICS[value]
    if name == "texture":
        return clip.get("texture") == value
    raise ValueError(name)


def judge(facets: list[tuple[str, str]], clips: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(relevance, hard share, soft share) per clip, each in [0, 1]; NaN share when the query has none."""
    ok = np.array([[facet_ok(n, v, c) for n, v in facets] for c in clips], dtype=np.float64).reshape(len(clips), -1)
    hard = np.array([n in HARD for n, _ in facets])
    rel = ok.mean(axis=1)
    h = ok[:, hard].mean(axis=1) if hard.any() else np.full(len(clips), np.nan)
    s = ok[:, ~hard].mean(axis=1) if (~hard).any() else np.full(len(clips), np.nan)
    return rel, h, s


def ndcg_at(ranked_rel: np.ndarray, all_rel: np.ndarray, k: int = K) -> float:
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float((ranked_rel[:k] * disc[: len(ranked_rel[:k])]).sum())
    ideal = np.sort(all_rel)[::-1][:k]
    idcg = float((ideal * disc[: len(ideal)]).sum())
    return dcg / idcg if idcg > 0 else 0.0


def opaque_name(clip: dict) -> str:
    """The copy's name: the corpus names hold labels ("...-harp-t+3.mid", "-mma-polka"), which the features
    ranker would read as words of the file name; a user's files are named by titles, not by these labels."""
    import hashlib

    return f"clip_{hashlib.sha1(clip['location'].encode()).hexdigest()[:12]}.mid"


def library_of(data_dir: Path, clips: list[dict], work: Path, encoders, progress: Callable[[str], None]):
    """A library holding copies of `clips` (indexed once, then reused while the copies are unchanged)."""
    from bridge.library import Library

    folder = work / "clips"
    for c in clips:
        dst = folder / opaque_name(c)
        if not dst.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(data_dir / c["location"], dst)
    lib = Library.open(work / "db", encoder=encoders)
    state = {"last": -1}

    def report(stage: str, done: int, total: int) -> None:
        step = max(total // 10, 1)
        if done // step != state["last"] or done == total:
            state["last"] = done // step
            progress(f"natural queries: {stage} {done}/{total}")

    lib.index([folder], progress=report)
    return lib, folder


def top_files(snap, mask, checks, score, k: int = K) -> list[int]:
    """File slots of the best `k` distinct files under `ranking.rank`."""
    out: list[int] = []
    for want in (4 * k, 16 * k, len(snap)):
        out = []
        for r in ranking.rank(snap, mask, checks, score, want):
            f = int(snap.file_of[r.index])
            if f not in out:
                out.append(f)
            if len(out) == k:
                return out
    return out


def evaluate_natural(
    encoders, data_dir: str | Path, split: str = "test", cache_dir: str | Path | None = None,
    progress: Callable[[str], None] | None = None, bonus: float | None = None,
) -> dict:
    """The three methods on every natural query (module docstring). `bonus` overrides
    ranking.PREFERENCE_BONUS for this run (a sweep on the valid split chose the shipped value)."""
    data_dir = Path(data_dir)
    note = progress or (lambda m: log.info(m))
    records = [json.loads(line) for line in (data_dir / "captions.jsonl").open(encoding="utf-8") if line.strip()]
    clips = [r for r in records if r.get("split") == split]
    if not clips:
        raise ValueError(f"no clips in split {split!r} of {data_dir}")
    work = Path(cache_dir or data_dir / ".retrieval_cache") / f"natural-{split}"
    note(f"natural queries: indexing {len(clips)} {split} clips as a library under {work}")
    lib, folder = library_of(data_dir, clips, work, encoders, note)
    try:
        snap = lib.snapshot()
    finally:
        lib.close()
    if snap.vectors is None or not snap.has_vector.any():
        raise ValueError("the natural-query library has no vectors: is the retrieval model loaded?")
    by_path = {str((folder / opaque_name(c)).resolve()): c for c in clips}
    file_clip = [by_path.get(str(Path(p).resolve())) for p in snap.files]
    present = [i for i, c in enumerate(file_clip) if c is not None]
    mask = np.isin(snap.file_of, present)
    queries = [(q, parse_facets(spec)) for q, spec in QUERIES]
    note(f"natural queries: encoding {len(queries)} queries")
    qvecs = encoders.encode_text([q for q, _ in queries])
    cos_all = snap.vectors @ qvecs.T  # (windows, queries)
    cos_all[~snap.has_vector] = -1.0
    saved = ranking.PREFERENCE_BONUS
    if bonus is not None:
        ranking.PREFERENCE_BONUS = bonus
    per: dict[str, dict[str, list[float]]] = {m: {"ndcg": [], "hard": [], "soft": []} for m in METHODS}
    rows = []
    try:
        for qi, (text, facets) in enumerate(queries):
            judged = [c for c in file_clip if c is not None]
            rel, hard, soft = judge(facets, judged)
            slot = {f: j for j, f in enumerate(present)}
            c = parse_query(text)
            checks = ranking.constraint_checks(snap, c)
            cos = cos_all[:, qi]
            scores = {"features": (checks, ranking.feature_text_score(snap, c)), "embedding": ([], cos),
                      "hybrid": (checks, cos)}
            row = {"query": text, "relevant": int((rel >= 0.999).sum())}
            for m, (chk, score) in scores.items():
                files = [slot[f] for f in top_files(snap, mask, chk, score)]
                per[m]["ndcg"].append(ndcg_at(rel[files], rel))
                if not np.isnan(hard[0]):
                    per[m]["hard"].append(float(hard[files].mean()) if files else 0.0)
                if not np.isnan(soft[0]):
                    per[m]["soft"].append(float(soft[files].mean()) if files else 0.0)
                row[m] = round(per[m]["ndcg"][-1], 4)
            rows.append(row)
    finally:
        ranking.PREFERENCE_BONUS = saved
    results = {m: {"nDCG@10": round(float(np.mean(v["ndcg"])), 4),
                   "constraint_satisfaction@10": round(float(np.mean(v["hard"])), 4),
                   "preference_satisfaction@10": round(float(np.mean(v["soft"])), 4)} for m, v in per.items()}
    return {
        "split": split,
        "clips": len(present),
        "windows": int(mask.sum()),
        "queries": len(queries),
        "queries_with_constraints": len(per["hybrid"]["hard"]),
        "queries_with_preferences": len(per["hybrid"]["soft"]),
        "preference_bonus": ranking.PREFERENCE_BONUS if bonus is None else bonus,
        "results": results,
        "per_query": rows,
    }


def format_natural(report: dict) -> str:
    lines = ["| method | nDCG@10 | constraint satisfaction@10 | preference satisfaction@10 |", "|---|---|---|---|"]
    for m, r in report["results"].items():
        lines.append(f"| {m} | {r['nDCG@10']:.3f} | {r['constraint_satisfaction@10']:.3f} | "
                     f"{r['preference_satisfaction@10']:.3f} |")
    return "\n".join(lines)
