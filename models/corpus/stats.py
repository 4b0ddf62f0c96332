"""`corpus_stats`: counts and histograms of a built corpus (collections, splits, keys, meters, ...)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from models.corpus.check import read_captions


def _hist(values) -> dict:
    return dict(Counter(values).most_common())


def _tempo_bucket(bpm: float) -> str:
    low = int(bpm // 20 * 20)
    return f"{low}-{low + 19}"


def corpus_stats(corpus: Path) -> dict:
    rows = read_captions(Path(corpus))
    return {
        "clips": len(rows),
        "pieces": len({r["piece_id"] for r in rows}),
        "seconds": round(sum(float(r.get("duration", 0)) for r in rows), 1),
        "histograms": {
            "collection": _hist(r["collection"] for r in rows),
            "category": _hist(r.get("category", "") for r in rows),
            "split (clips)": _hist(r["split"] for r in rows),
            "split (pieces)": _hist(s for _p, s in {(r["piece_id"], r["split"]) for r in rows}),
            "key": _hist(r["key"] for r in rows),
            "mode": _hist(r["mode"] for r in rows),
            "key_source": _hist(r.get("key_source", "") for r in rows),
            "time_signature": _hist(r["time_signature"] for r in rows),
            "tempo_word": _hist(r["tempo_word"] for r in rows),
            "tempo (BPM)": dict(sorted(Counter(_tempo_bucket(float(r["tempo"])) for r in rows).items(),
                                       key=lambda kv: int(kv[0].split("-")[0]))),
            "instrument": _hist(i for r in rows for i in r["instrument_summary"]),
            "phrasing_family (primary)": _hist(r["phrasing_family"] for r in rows),
            "caption families (all)": _hist(f for r in rows for f in r.get("caption_families", [])),
            "mood": _hist(m for r in rows for m in r.get("mood", [])),
            "groove": _hist(r["groove"] for r in rows if r.get("groove")),
            "texture": _hist(r.get("texture", "") for r in rows),
            "transposed": _hist(r.get("transposed", 0) for r in rows),
            "licence": _hist(r.get("licence", "") for r in rows),
        },
    }
