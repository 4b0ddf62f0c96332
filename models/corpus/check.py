"""`check_corpus`: the invariants a built corpus must hold, each reported as ok/failed with a reason."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

REQUIRED_FIELDS = (
    "location", "caption", "captions", "phrasing_family", "split", "piece_id", "collection", "source", "licence",
    "key", "mode", "time_signature", "tempo", "tempo_word", "duration", "instrument_summary", "chord_summary",
    "mood", "key_source", "transposed", "orchestrated", "groove",
)


def read_captions(corpus: Path) -> list[dict]:
    path = Path(corpus) / "captions.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist (is this a built corpus?)")
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]


def check_corpus(corpus: Path, min_clips: int = 20_000, min_pieces: int = 5_000,
                 categories: tuple[str, ...] = ("folk", "chorale", "polyphony")) -> dict:
    corpus = Path(corpus)
    checks: list[dict] = []

    def add(name: str, ok: bool, detail: str) -> None:
        checks.append({"name": name, "ok": bool(ok), "detail": detail})

    manifest_path = corpus / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    add("manifest", bool(manifest),
        "manifest.json present" if manifest else "manifest.json missing (build unfinished?)")
    try:
        rows = read_captions(corpus)
    except (FileNotFoundError, ValueError) as e:
        add("captions", False, str(e))
        return {"ok": False, "checks": checks, "counts": {}}

    missing_fields = [f for f in REQUIRED_FIELDS if rows and any(f not in r for r in rows)]
    add("fields", not missing_fields and bool(rows),
        "all rows have the contract fields" if not missing_fields else f"missing: {', '.join(missing_fields)}")

    pieces = {r["piece_id"] for r in rows}
    add("clips", len(rows) >= min_clips, f"{len(rows)} clips (need >= {min_clips})")
    add("pieces", len(pieces) >= min_pieces, f"{len(pieces)} distinct pieces (need >= {min_pieces})")

    cats = Counter(r.get("category", "") for r in rows)
    absent = [c for c in categories if not cats.get(c)]
    add("categories", not absent, f"{dict(cats)}" + (f"; missing {', '.join(absent)}" if absent else ""))

    splits_of: dict[str, set] = {}
    for r in rows:
        splits_of.setdefault(r["piece_id"], set()).add(r["split"])
    mixed = [p for p, s in splits_of.items() if len(s) > 1]
    by_split = Counter(r["split"] for r in rows)
    add("split_by_piece", not mixed,
        f"{dict(by_split)}; every piece in one split" if not mixed else f"{len(mixed)} pieces in several splits")
    bad_split = [r["location"] for r in rows if r["split"] not in ("train", "valid", "test")]
    add("split_names", not bad_split, "train/valid/test only" if not bad_split else f"odd split in {bad_split[0]}")

    family = manifest.get("held_out_family")
    synonyms = manifest.get("held_out_synonyms", [])
    if family:
        leaked = [r["location"] for r in rows if r["split"] != "test"
                  and (r["phrasing_family"] == family or family in r.get("caption_families", []))]
        add("held_out_family", not leaked,
            f"'{family}' only in test" if not leaked else f"'{family}' in {len(leaked)} train/valid clips")
        in_test = sum(1 for r in rows if r["split"] == "test" and family in r.get("caption_families", []))
        add("held_out_family_used", in_test > 0 or by_split.get("test", 0) == 0,
            f"{in_test} test clips use '{family}'")
    elif manifest.get("source_kind") == "midicaps":
        add("held_out_family", True, "MidiCaps corpus: its own test_set, no held-out phrasing")
    else:
        add("held_out_family", False, "manifest names no held-out family")
    if synonyms:
        pattern = re.compile(
            r"(?<![\w-])(" + "|".join(re.escape(s) for s in sorted(synonyms, key=len, reverse=True)) + r")(?![\w-])",
            re.IGNORECASE,
        )
        leaks = Counter()
        for r in rows:
            if r["split"] == "test":
                continue
            for text in [r["caption"], *r.get("captions", [])]:
                for m in pattern.finditer(text):
                    leaks[m.group(1).lower()] += 1
        add("held_out_synonyms", not leaks,
            f"{len(synonyms)} synonyms absent from train/valid" if not leaks else f"leaked: {dict(leaks)}")

    missing = [r["location"] for r in rows if not (corpus / r["location"]).is_file()]
    add("files", not missing, "every location exists" if not missing else f"{len(missing)} missing, e.g. {missing[0]}")
    dupes = [loc for loc, n in Counter(r["location"] for r in rows).items() if n > 1]
    add("unique_locations", not dupes, "no duplicates" if not dupes else f"{len(dupes)} duplicate locations")

    share_limit = manifest.get("config", {}).get("essen_max_share")
    if share_limit and rows:
        share = sum(1 for r in rows if r["collection"] == "essen") / len(rows)
        add("essen_share", share <= share_limit + 0.005, f"Essen {share:.1%} of clips (limit {share_limit:.0%})")
    unlicensed = [r["location"] for r in rows if not r.get("licence") or not r.get("source")]
    add("licences", not unlicensed, "every clip has source and licence" if not unlicensed
        else f"{len(unlicensed)} without licence")
    counts = {"clips": len(rows), "pieces": len(pieces), "by_split": dict(by_split), "by_category": dict(cats)}
    return {"ok": all(c["ok"] for c in checks), "checks": checks, "counts": counts}
