"""`bundle_library`: a small, varied, public-domain-only set of clips shipped as the daemon's starter library."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

from models.corpus.check import read_captions
from models.corpus.ingest import slug
from models.corpus.sources import PUBLIC_DOMAIN

# Shares of the bundle; only collections whose music and encodings are public domain. Never Essen
# (non-commercial), Nottingham (licence unclear), trecento (modern PMFC editions) or MMA grooves.
BUNDLE_SHARES = (("chorales", 0.25), ("oneill", 0.22), ("ryan", 0.18), ("aird", 0.13), ("palestrina", 0.12),
                 ("monteverdi", 0.10))
_PREFIX = {"chorales": "bach", "oneill": "oneill", "ryan": "ryan", "aird": "aird", "palestrina": "palestrina",
           "monteverdi": "monteverdi"}


def eligible(row: dict) -> bool:
    return (row.get("licence") == PUBLIC_DOMAIN and row.get("collection") in _PREFIX and not row.get("groove")
            and row.get("split") in ("train", "valid", "test"))


def file_name(row: dict) -> str:
    collection = row["collection"]
    ident = row["piece_id"].split("/", 1)[-1]
    m = re.search(r"_(\d+)$", ident)
    number = m.group(1).zfill(4) if m else slug(ident, 24)
    if collection == "ryan":  # one tune per file, always X:1: the title names it
        number = ""
    title = slug(row.get("title") or "", 36)
    lead = slug(row.get("ensemble") or (row.get("instruments") or [""])[0], 20)
    m = re.search(r"__(whole|b\d+-\d+)", row["location"])
    span = m.group(1) if m else ""
    parts = [_PREFIX[collection], number, title if title != number else "", span, lead]
    return "_".join(p for p in parts if p) + ".mid"


def _order(row: dict) -> str:
    return hashlib.sha1(row["location"].encode()).hexdigest()


def select(rows: list[dict], count: int) -> list[dict]:
    """One clip per piece, spread over collections, ensembles, keys and meters."""
    chosen: list[dict] = []
    for collection, share in BUNDLE_SHARES:
        quota = max(1, round(count * share))
        pool = sorted((r for r in rows if r["collection"] == collection and eligible(r)), key=_order)
        seen_pieces: set[str] = set()
        seen_traits: set[tuple] = set()
        picked: list[dict] = []
        for strict in (True, False):
            for r in pool:
                if len(picked) >= quota:
                    break
                if r["piece_id"] in seen_pieces:
                    continue
                traits = (r.get("ensemble") or (r.get("instruments") or [""])[0], r["mode"], r["time_signature"])
                if strict and traits in seen_traits:
                    continue
                picked.append(r)
                seen_pieces.add(r["piece_id"])
                seen_traits.add(traits)
        chosen += picked
    return chosen[:count]


def bundle_library(corpus: Path, out: Path, count: int = 80, max_bytes: int = 3_000_000) -> dict:
    corpus, out = Path(corpus), Path(out)
    rows = read_captions(corpus)
    picked = select(rows, count)
    if not picked:
        raise ValueError(f"no public-domain clips in {corpus}")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.mid"):
        old.unlink()
    lines = [
        "# Bundled library: sources and licences",
        "",
        "Clips from the midibridge training corpus (`midibridge data bundle`). Every file is public-domain music;",
        "the encodings come from the music21 corpus. Instruments other than the original ones are",
        "re-orchestrations made by the corpus builder. Essen folksongs (non-commercial licence) are never bundled.",
        "",
        "| file | title | key | meter | instruments | source | licence |",
        "|---|---|---|---|---|---|---|",
    ]
    total = 0
    written = []
    for row in picked:
        name = file_name(row)
        src = corpus / row["location"]
        size = src.stat().st_size
        if total + size > max_bytes:
            break
        shutil.copyfile(src, out / name)
        total += size
        written.append(name)
        title = (row.get("title") or "").replace("|", "/")
        lines.append(f"| {name} | {title} | {row['key']} | {row['time_signature']} | "
                     f"{', '.join(row.get('instruments', []))} | {row['source']} | {row['licence']} |")
    (out / "SOURCES.md").write_text("\n".join(lines) + "\n")
    return {"files": len(written), "bytes": total, "names": written}
