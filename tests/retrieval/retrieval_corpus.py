"""A tiny captioned corpus in the CONTRACTS.md format, built from music21's bundled folk-tune ABC files.

Each tune becomes a few 8-bar clips with different instruments and tempi, so captions differ in
instrument, tempo, key and meter words; pieces are split train/valid/test and the test clips also get
captions in a held-out phrasing family.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

HELD_OUT = "casual"
INSTRUMENTS = [(0, "piano"), (73, "flute"), (40, "violin"), (19, "organ")]
TEMPI = [(66, "slow", "Adagio"), (100, "moderate", "Andante"), (150, "fast", "Allegro")]
_MODES = {"": "major", "m": "minor", "min": "minor", "maj": "major", "dor": "dorian", "mix": "mixolydian"}


def _abc_tunes(limit: int) -> list[str]:
    import music21

    root = Path(music21.__file__).parent / "corpus" / "essenFolksong"
    tunes: list[str] = []
    for name in ("altdeu10.abc", "ballad10.abc"):
        text = (root / name).read_text(encoding="latin-1")
        tunes += ["X:" + t for t in text.split("\nX:")[1:]]
    return tunes[:limit]


def _key(abc: str) -> tuple[str, str]:
    m = re.search(r"^K:\s*([A-G])([#b]?)\s*([a-zA-Z]*)", abc, re.MULTILINE)
    if not m:
        return "C", "major"
    return m.group(1) + m.group(2), _MODES.get(m.group(3).lower()[:3], "major")


def _captions(inst: str, tempo: tuple[int, str, str], key: str, mode: str, meter: str) -> dict[str, str]:
    bpm, adj, word = tempo
    return {
        "plain": f"a {adj} {inst} melody in {key} {mode} in {meter}",
        "descriptive": f"A folk song played on {inst} in the key of {key} {mode}, {word}, {meter} time, {bpm} BPM",
        HELD_OUT: f"{inst} tune, {key} {mode}, kinda {adj}, {meter}",
    }


def build_tiny_corpus(out: Path, n_tunes: int = 30, seed: int = 0) -> Path:
    """Write `out/clips/`, `captions.jsonl` and `manifest.json`; returns `out`."""
    import symusic

    from bridge.music import piece_from_score, save_midi
    from bridge.music.notes import TempoChange

    rng = np.random.default_rng(seed)
    out = Path(out)
    (out / "clips" / "essen").mkdir(parents=True, exist_ok=True)
    records = []
    tunes = _abc_tunes(n_tunes * 2)
    kept = 0
    for t_index, abc in enumerate(tunes):
        if kept >= n_tunes:
            break
        try:
            piece = piece_from_score(symusic.Score.from_abc(abc))
        except Exception:  # a few Essen tunes use ABC symusic cannot parse; the tiny corpus just skips them
            continue
        ts = piece.time_signature_at(0)
        bars = piece.bar_starts()
        if len(bars) < 4:
            continue
        kept += 1
        piece_id = f"essen/tune{t_index:03d}"
        split = ["train", "train", "train", "valid", "test"][kept % 5]
        key, mode = _key(abc)
        meter = str(ts)
        stop = bars[min(8, len(bars) - 1)] if len(bars) > 8 else piece.end + 1e-6
        clip = piece.window(0.0, float(stop))
        for v in range(2):
            program, inst = INSTRUMENTS[int(rng.integers(len(INSTRUMENTS)))]
            tempo = TEMPI[int(rng.integers(len(TEMPI)))]
            notes = clip.notes.with_(program=np.full(len(clip.notes), program, np.int16))
            variant = clip.with_notes(notes)
            variant = type(variant)(**{**variant.__dict__, "tempos": (TempoChange(0.0, float(tempo[0])),)})
            location = f"clips/essen/tune{t_index:03d}__v{v}.mid"
            save_midi(variant, out / location)
            caps = _captions(inst, tempo, key, mode, meter)
            families = ["plain", "descriptive"] + ([HELD_OUT] if split == "test" else [])
            records.append({
                "location": location,
                "caption": caps["plain"],
                "captions": [{"text": caps[f], "family": f} for f in families],
                "phrasing_family": "plain",
                "split": split,
                "piece_id": piece_id,
                "collection": "essen",
                "source": "music21 essenFolksong",
                "licence": "non-commercial",
                "key": key,
                "mode": mode,
                "time_signature": meter,
                "tempo": float(tempo[0]),
                "tempo_word": tempo[2],
                "instrument_summary": [inst],
                "transposed": 0,
            })
    with (out / "captions.jsonl").open("w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    (out / "manifest.json").write_text(json.dumps({"held_out_family": HELD_OUT, "clips": len(records)}))
    return out
