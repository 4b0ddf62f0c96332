"""`build_corpus`: sources -> cached pieces -> clips + captions.jsonl + report.jsonl + manifest.json.

Two pooled stages: ingest every source file (cached), then cut every piece into clips. Essen, by far the
largest collection, is processed last against a clip budget so it stays under its share of the corpus.
manifest.json is written last: its presence means the build finished.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing as mp
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from models.corpus.captions import FAMILIES, HELD_OUT_FAMILY, held_out_synonyms
from models.corpus.config import BuildConfig
from models.corpus.dedupe import find_duplicates, melody_fingerprint
from models.corpus.ingest import IngestResult, SourcePiece, ingest_file, ingest_midi_file
from models.corpus.pipeline import PieceResult, process_piece
from models.corpus.sources import Collection, collection_by_name, music21_corpus_root

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
CORPUS_FORMAT_VERSION = 1


def _ingest_task(args) -> IngestResult:
    collection, path, root, cache_dir = args
    try:
        return ingest_file(collection, path, root, cache_dir)
    except Exception as e:  # an unreadable source file is reported, never fatal
        reason = f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
        return IngestResult((), ({"source": str(path), "reason": reason},), cached=False)


def _midi_task(args) -> IngestResult:
    path, root, cache_dir = args
    return ingest_midi_file(path, root, cache_dir)


def _pieces_task(args) -> list[PieceResult]:
    pieces, cfg = args
    return [process_piece(sp, cfg) for sp in pieces]


def _hash_order(piece_id: str, seed: str) -> str:
    return hashlib.sha1(f"{seed}|order|{piece_id}".encode()).hexdigest()


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class _Runner:
    """A process pool (or the current process for workers <= 1) with progress reporting."""

    def __init__(self, workers: int):
        self.workers = max(1, workers)
        self.pool = mp.get_context("fork").Pool(self.workers) if self.workers > 1 else None

    def map(self, fn, tasks: list, stage: str, progress: Progress | None, weights: list[int] | None = None):
        total = sum(weights) if weights else len(tasks)
        done = 0
        results = []
        iterator = self.pool.imap(fn, tasks) if self.pool else map(fn, tasks)
        for i, result in enumerate(iterator):
            results.append(result)
            done += weights[i] if weights else 1
            if progress:
                progress(stage, done, total)
        return results

    def close(self):
        if self.pool:
            self.pool.close()
            self.pool.join()


def build_corpus(cfg: BuildConfig, progress: Progress | None = None, midi_dirs: tuple[str, ...] = ()) -> dict:
    t0 = time.time()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        manifest_path.unlink()  # no manifest while building: "manifest present" means "finished"
    if (out / "clips").exists():
        shutil.rmtree(out / "clips")
    cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else out / "cache"
    root = music21_corpus_root()
    runner = _Runner(cfg.workers)
    try:
        pieces, reports, cached_files, files = _ingest(cfg, root, cache_dir, runner, progress, midi_dirs)
        results = _clip_all(cfg, pieces, runner, progress)
    finally:
        runner.close()
    records: list[dict] = []
    for r in results:
        records.extend(r.records)
        reports.extend(r.reports)
    records.sort(key=lambda r: r["location"])
    _write_jsonl(out / "captions.jsonl", records)
    _write_jsonl(out / "report.jsonl", reports)
    manifest = _manifest(cfg, records, reports, files, cached_files, time.time() - t0, midi_dirs)
    tmp = manifest_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, manifest_path)
    return manifest


def _ingest(cfg, root, cache_dir, runner, progress, midi_dirs):
    collections = [collection_by_name(n) for n in cfg.collections]
    tasks: list[tuple[Collection, Path, Path, Path]] = []
    skipped: list[dict] = []
    for c in collections:
        files = c.files(root)
        if c.fmt == "score" and cfg.max_score_cost:
            costly = [f for f in files if _parse_cost(f) > cfg.max_score_cost]
            skipped += [{"source": str(f.relative_to(root)), "reason": f"skipped: score too slow to parse "
                         f"({f.stat().st_size / 1e3:.0f} kB > max_score_cost)"} for f in costly]
            files = [f for f in files if f not in costly]
        if cfg.limit_per_collection:
            # A limited build (tests, trials) reads the smallest few files: fastest to parse.
            files = sorted(files, key=lambda f: (f.stat().st_size, f.name))[: cfg.limit_per_collection]
        tasks += [(c, f, root, cache_dir) for f in files]
    # Big scores first so one slow Beethoven quartet does not finish alone at the end.
    tasks.sort(key=lambda t: -t[1].stat().st_size)
    results = runner.map(_ingest_task, tasks, "ingest", progress)
    midi_files = [p for d in midi_dirs for p in sorted(Path(d).rglob("*")) if p.suffix.lower() in (".mid", ".midi")]
    results += runner.map(_midi_task, [(p, Path(p).parent, cache_dir) for p in midi_files], "ingest midi", progress)
    pieces: list[SourcePiece] = []
    reports: list[dict] = list(skipped)
    cached = 0
    for r in results:
        pieces.extend(r.pieces)
        reports.extend(r.reports)
        cached += int(r.cached)
    by_collection: dict[str, list[SourcePiece]] = {}
    for p in pieces:
        by_collection.setdefault(p.collection, []).append(p)
    selected: list[SourcePiece] = []
    seen: set[str] = set()
    for items in by_collection.values():
        items.sort(key=lambda p: _hash_order(p.piece_id, cfg.seed))
        if cfg.limit_per_collection:
            items = items[: cfg.limit_per_collection]
        for p in items:
            if p.piece_id in seen:
                reports.append({"source": p.source_file, "reason": f"duplicate piece id {p.piece_id}"})
                continue
            seen.add(p.piece_id)
            selected.append(p)
    selected.sort(key=lambda p: p.piece_id)
    fingerprints = [fp for batch in runner.map(_fingerprint_task, [[p.midi for p in c] for c in _chunks(selected, 200)],
                                               "dedupe", progress) for fp in batch]
    dupes = find_duplicates(selected, fingerprints)
    reports += [{"source": p.source_file, "reason": f"duplicate of {dupes[p.piece_id]}"}
                for p in selected if p.piece_id in dupes]
    selected = [p for p in selected if p.piece_id not in dupes]
    return selected, reports, cached, len(tasks) + len(midi_files)


def _fingerprint_task(paths: list[str]) -> list[str]:
    return [melody_fingerprint(p) for p in paths]


def _parse_cost(path: Path) -> int:
    return path.stat().st_size * (8 if path.suffix == ".mxl" else 1)


def _clip_all(cfg: BuildConfig, pieces: list[SourcePiece], runner: _Runner, progress) -> list[PieceResult]:
    essen = [p for p in pieces if p.collection == "essen"]
    others = [p for p in pieces if p.collection != "essen"]
    # Long works first (they take longest), then small chunks so both workers stay busy to the end.
    others.sort(key=lambda p: -p.bars)
    chunks = list(_chunks(others, 8))
    results = [r for batch in runner.map(_pieces_task, [(c, cfg) for c in chunks], "clips", progress,
                                         [len(c) for c in chunks]) for r in batch]
    if not essen:
        return results
    other_clips = sum(len(r.records) for r in results)
    share = cfg.essen_max_share
    budget = int(share / (1 - share) * other_clips) if other_clips else 10**9
    essen_results: list[PieceResult] = []
    essen_clips = 0
    wave = max(1, runner.workers) * 4
    essen_chunks = list(_chunks(essen, 25))
    done = 0
    for start in range(0, len(essen_chunks), wave):
        if essen_clips >= budget:
            break
        group = essen_chunks[start : start + wave]
        for batch in runner.map(_pieces_task, [(c, cfg) for c in group], "essen", None):
            essen_results.extend(batch)
            essen_clips += sum(len(r.records) for r in batch)
            done += len(batch)
            if progress:
                progress("essen clips", min(essen_clips, budget), budget)
    if progress:
        progress("essen clips", budget, budget)
    # Trim to the budget by whole pieces (in their deterministic order), deleting their files.
    kept: list[PieceResult] = []
    total = 0
    for r in essen_results:
        if total + len(r.records) > budget and r.records:
            for rec in r.records:
                (Path(cfg.out) / rec["location"]).unlink(missing_ok=True)
            continue
        kept.append(r)
        total += len(r.records)
    return results + kept


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def _manifest(cfg, records, reports, files, cached_files, seconds, midi_dirs) -> dict:
    pieces_by_split: dict[str, set] = {}
    for r in records:
        pieces_by_split.setdefault(r["split"], set()).add(r["piece_id"])
    return {
        "format_version": CORPUS_FORMAT_VERSION,
        "config": cfg.to_dict(),
        "midi_dirs": list(midi_dirs),
        "counts": {
            "clips": len(records),
            "pieces": len({r["piece_id"] for r in records}),
            "by_collection": dict(Counter(r["collection"] for r in records)),
            "pieces_by_collection": dict(Counter(pid.split("/")[0] for pid in {r["piece_id"] for r in records})),
            "by_category": dict(Counter(r["category"] for r in records)),
            "by_split": dict(Counter(r["split"] for r in records)),
            "pieces_by_split": {k: len(v) for k, v in pieces_by_split.items()},
            "grooves": sum(1 for r in records if r["groove"]),
            "transposed": sum(1 for r in records if r["transposed"]),
            "orchestrated": sum(1 for r in records if r["orchestrated"]),
            "reports": len(reports),
        },
        "families": list(FAMILIES),
        "held_out_family": HELD_OUT_FAMILY,
        "held_out_synonyms": held_out_synonyms(),
        "source_files": files,
        "cached_source_files": cached_files,
        "build_seconds": round(seconds, 1),
    }
