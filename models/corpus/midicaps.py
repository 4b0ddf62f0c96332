"""Read a real MidiCaps `train.json` (JSON lines) plus the Lakh MIDI files into the corpus format."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections import Counter
from pathlib import Path

from bridge.music import MidiFileError, load_midi
from models.corpus.build import CORPUS_FORMAT_VERSION, _write_jsonl
from models.corpus.split import split_of

MIDICAPS_SOURCE = "MidiCaps captions over the Lakh MIDI Dataset"
MIDICAPS_LICENCE = "CC BY-SA 4.0 (MidiCaps captions); Lakh MIDI files under their own terms"


def _first(value):
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _mode(key: str) -> str:
    words = key.lower().split()
    return words[-1] if len(words) > 1 and words[-1] in ("major", "minor") else ""


def convert_row(row: dict, midi_dir: Path, out: Path) -> tuple[dict | None, str | None]:
    """One MidiCaps row -> (record, None) or (None, reason)."""
    location = row.get("location")
    if not location or not row.get("caption"):
        return None, "row without location or caption"
    src = midi_dir / location
    if not src.is_file():
        # MidiCaps locations start with "lmd_full/"; accept a --midi-dir pointing inside it too.
        alt = midi_dir / Path(location).relative_to(Path(location).parts[0]) if len(Path(location).parts) > 1 else src
        if not alt.is_file():
            return None, f"MIDI file not found: {location}"
        src = alt
    try:
        piece = load_midi(src)
    except MidiFileError as e:
        return None, str(e)
    digest = hashlib.md5(location.encode()).hexdigest()[:16]
    name = f"{Path(location).stem[:40]}-{digest[:6]}.mid"
    dest = out / "clips" / "midicaps" / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    piece_id = f"midicaps/{digest}"
    split = "test" if row.get("test_set") else split_of(piece_id, (0.95, 0.05, 0.0))
    key = str(row.get("key") or "")
    record = {
        "location": f"clips/midicaps/{name}",
        "caption": row["caption"],
        "captions": [row["caption"]],
        "phrasing_family": "midicaps",
        "caption_families": ["midicaps"],
        "split": split,
        "piece_id": piece_id,
        "collection": "midicaps",
        "category": "midicaps",
        "title": Path(location).stem,
        "source": MIDICAPS_SOURCE,
        "source_file": location,
        "licence": MIDICAPS_LICENCE,
        "genre": _first(row.get("genre")),
        "dance": None,
        "key": key,
        "tonic": key.split()[0] if key else "",
        "mode": _mode(key),
        "key_source": "midicaps",
        "time_signature": row.get("time_signature") or str(piece.time_signatures[0]),
        "tempo": float(row.get("tempo") or piece.tempo_at(0.0)),
        "tempo_word": row.get("tempo_word") or "",
        "duration": float(row.get("duration") or piece.duration_seconds),
        "bars": len(piece.bar_starts()),
        "instrument_summary": list(row.get("instrument_summary") or []),
        "instruments": [str(i).lower() for i in row.get("instrument_summary") or []],
        "chord_summary": list(row.get("chord_summary") or []),
        "chord_source": "midicaps",
        "mood": list(row.get("mood") or []),
        "texture": None,
        "register": None,
        "dynamics": None,
        "transposed": 0,
        "orchestrated": False,
        "groove": None,
        "notes": len(piece.notes),
    }
    return record, None


def load_midicaps(path: Path, midi_dir: Path, out: Path, limit: int = 0) -> dict:
    t0 = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)
    records: list[dict] = []
    reports: list[dict] = []
    with Path(path).open() as f:
        for i, line in enumerate(f):
            if limit and i >= limit:
                break
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as e:
                reports.append({"source": f"{path}:{i + 1}", "reason": f"bad JSON: {e}"})
                continue
            record, reason = convert_row(row, Path(midi_dir), out)
            if record is None:
                reports.append({"source": row.get("location", f"{path}:{i + 1}"), "reason": reason})
            else:
                records.append(record)
    records.sort(key=lambda r: r["location"])
    _write_jsonl(out / "captions.jsonl", records)
    _write_jsonl(out / "report.jsonl", reports)
    manifest = {
        "format_version": CORPUS_FORMAT_VERSION,
        "source_kind": "midicaps",
        "config": {"midicaps": str(path), "midi_dir": str(midi_dir), "limit": limit},
        "counts": {
            "clips": len(records),
            "pieces": len({r["piece_id"] for r in records}),
            "by_collection": {"midicaps": len(records)},
            "by_split": dict(Counter(r["split"] for r in records)),
            "reports": len(reports),
        },
        "families": ["midicaps"],
        "held_out_family": None,
        "held_out_synonyms": [],
        "build_seconds": round(time.time() - t0, 1),
    }
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, out / "manifest.json")
    return manifest
