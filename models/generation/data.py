"""Build the aligned (backbone, melody) training pairs: `midibridge data generation --out DIR`.

DIR/songs.jsonl   one song per line: id, collection, split (by piece), licence, song (see encoding.song_to_dict)
DIR/manifest.json counts and settings
Transposition to all 12 keys happens at training time (`random_transpose`), never in the stored data, so
held-out evaluation sees each piece once in its own key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter
from pathlib import Path

import numpy as np

from bridge.generation import vocab as V
from bridge.generation.encoding import Song, song_from_dict, song_from_notes, song_to_dict
from models.generation import sources

log = logging.getLogger(__name__)

# Coarse tempi by dance type (ABC `R:`), BPM in quarter notes; chorales at a hymn tempo.
RHYTHM_TEMPO = {"reel": 112, "jig": 108, "slide": 120, "hornpipe": 92, "polka": 120, "waltz": 96,
                "march": 104, "strathspey": 76, "air": 66, "slow": 66, "set dance": 96, "lied": 88}
CHORALE_TEMPO = 76.0
MAX_BARS = 64


def split_of(piece_id: str, valid: float = 0.05, test: float = 0.05) -> str:
    """Deterministic split by piece id (never by clip or transposition)."""
    h = int(hashlib.sha1(piece_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if h < test else "valid" if h < test + valid else "train"


def tempo_of(rec: dict) -> float:
    if rec["collection"] == "chorales":
        return CHORALE_TEMPO
    rhythm = rec.get("rhythm") or ""
    for word, bpm in RHYTHM_TEMPO.items():
        if word in rhythm:
            return float(bpm)
    return 100.0


def record_to_song(rec: dict) -> Song | None:
    meter = f"{rec['meter'][0]}/{rec['meter'][1]}"
    if meter not in V.METERS:
        return None
    song = song_from_notes(np.asarray(rec["lead"]), np.asarray(rec["lower"]), rec["key"][0], rec["key"][1], meter,
                           tempo_of(rec), rec.get("phrase_ends") or None)
    if len(song.bars) < 4:
        return None
    return Song(song.tonic_pc, song.mode, song.meter, song.tempo_bpm, song.bars[:MAX_BARS])


def build(out: Path, chorale_cache: Path, folk_per_dir: int = 400, chorale_limit: int | None = None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    if not chorale_cache.exists() or (chorale_limit is None and len(sources.load_cached(chorale_cache)) < 300):
        sources.cache_chorales(chorale_cache, chorale_limit)
    records = sources.load_cached(chorale_cache)[:chorale_limit]
    records += list(sources.iter_folk(limit_per_dir=folk_per_dir))
    counts: Counter = Counter()
    skipped = 0
    with (out / "songs.jsonl").open("w") as f:
        for rec in records:
            song = record_to_song(rec)
            if song is None:
                skipped += 1
                continue
            split = split_of(rec["id"])
            counts[(rec["collection"], split)] += 1
            f.write(json.dumps({"id": rec["id"], "collection": rec["collection"], "split": split,
                                "licence": rec["licence"], "song": song_to_dict(song)}) + "\n")
    songs = load_songs(out)
    manifest = {
        "songs": len(songs),
        "skipped": skipped,
        "by_split": dict(Counter(s["split"] for s in songs)),
        "by_collection": dict(Counter(s["collection"] for s in songs)),
        "by_meter": dict(Counter(s["song"]["meter"] for s in songs)),
        "by_mode": dict(Counter(s["song"]["key"][1] for s in songs)),
        "bars": int(sum(len(s["song"]["bars"]) for s in songs)),
        "chords_derived": True,
        "seconds": round(time.time() - t0, 1),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def load_songs(data_dir: Path, split: str | None = None) -> list[dict]:
    rows = [json.loads(line) for line in (Path(data_dir) / "songs.jsonl").read_text().splitlines() if line.strip()]
    return [r for r in rows if split is None or r["split"] == split]


def songs_of(data_dir: Path, split: str) -> list[Song]:
    return [song_from_dict(r["song"]) for r in load_songs(data_dir, split)]
