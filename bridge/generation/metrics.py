"""Musical metrics of songs (generated or human), pure numpy; `eval generation` puts each beside the same
metric on human held-out pieces. Every metric reads the Song (chords per beat, notes on the 16th grid).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from bridge.analysis.key import estimate_key
from bridge.generation import vocab as V
from bridge.generation.encoding import Song, beats_per_bar, positions_per_bar, song_to_piece
from bridge.generation.harmony import scale_pcs

IOI_BINS = 17  # 1..16 sixteenths, 17+ pooled


def _entropy(counts) -> float:
    c = np.asarray(list(counts), dtype=np.float64)
    if c.sum() <= 0:
        return 0.0
    p = c[c > 0] / c.sum()
    return float(-(p * np.log2(p)).sum())


def chord_tone_ratio_strong(song: Song) -> float | None:
    """Melody notes struck on a beat whose pitch class belongs to that beat's chord."""
    nb = beats_per_bar(song.meter)
    beat16 = positions_per_bar(song.meter) / nb
    hits = total = 0
    for bar in song.bars:
        for pos, pitch, _ in bar.notes:
            if abs(pos / beat16 - round(pos / beat16)) > 1e-6:
                continue
            beat = min(int(round(pos / beat16)), len(bar.chords) - 1)
            if beat < 0 or not bar.chords:
                continue
            r, q, _ = V.chord_of_token(bar.chords[beat])
            total += 1
            hits += pitch % 12 in V.chord_pcs(r, q)
    return hits / total if total else None


def scale_consistency(song: Song) -> float | None:
    scale = scale_pcs(song.tonic_pc, song.mode)
    pcs = [p % 12 for bar in song.bars for _, p, _ in bar.notes]
    return float(np.mean([pc in scale for pc in pcs])) if pcs else None


def pitch_class_entropy(song: Song) -> float:
    return _entropy(Counter(p % 12 for bar in song.bars for _, p, _ in bar.notes).values())


def pitch_range(song: Song) -> int:
    ps = [p for bar in song.bars for _, p, _ in bar.notes]
    return int(max(ps) - min(ps)) if ps else 0


def ioi_histogram(song: Song) -> np.ndarray:
    ppb = positions_per_bar(song.meter)
    onsets = [b * ppb + pos for b, bar in enumerate(song.bars) for pos, _, _ in bar.notes]
    h = np.zeros(IOI_BINS)
    for d in np.diff(onsets):
        h[min(int(d), IOI_BINS) - 1] += 1
    return h


def chord_progression_entropy(song: Song) -> float:
    """Entropy (bits) of chord changes as (root interval, quality -> quality), repeats collapsed: key free."""
    seq = []
    for bar in song.bars:
        for t in bar.chords:
            rq = V.chord_of_token(t)[:2]
            if not seq or seq[-1] != rq:
                seq.append(rq)
    moves = Counter(((b[0] - a[0]) % 12, a[1], b[1]) for a, b in zip(seq, seq[1:]))
    return _entropy(moves.values())


def in_key_chord_ratio(song: Song) -> float:
    scale = scale_pcs(song.tonic_pc, song.mode)
    flags = [set(V.chord_pcs(*V.chord_of_token(t)[:2])) <= scale for bar in song.bars for t in bar.chords]
    return float(np.mean(flags)) if flags else 0.0


def key_matches(song: Song) -> bool:
    """Whether the project's key analysis hears the song (chords + melody) in the key it was asked for."""
    est = estimate_key(song_to_piece(song).notes)
    return est.tonic_pc == song.tonic_pc % 12 and est.mode == song.mode


def meter_ok(song: Song) -> bool:
    """Every bar has one chord per beat and every note starts inside its bar."""
    nb, ppb = beats_per_bar(song.meter), positions_per_bar(song.meter)
    return all(len(b.chords) == nb and all(0 <= p < ppb for p, _, _ in b.notes) for b in song.bars)


def _mean(xs) -> float | None:
    xs = [x for x in xs if x is not None]
    return round(float(np.mean(xs)), 4) if xs else None


def summarize(songs: list[Song]) -> dict:
    """Mean of each metric over songs, plus the pooled IOI histogram (normalised) for groove similarity."""
    ioi = sum((ioi_histogram(s) for s in songs), np.zeros(IOI_BINS))
    return {
        "n": len(songs),
        "chord_tone_ratio_strong_beats": _mean(chord_tone_ratio_strong(s) for s in songs),
        "scale_consistency": _mean(scale_consistency(s) for s in songs),
        "pitch_class_entropy_bits": _mean(pitch_class_entropy(s) for s in songs),
        "pitch_range_semitones": _mean(pitch_range(s) for s in songs),
        "chord_progression_entropy_bits": _mean(chord_progression_entropy(s) for s in songs),
        "in_key_chord_ratio": _mean(in_key_chord_ratio(s) for s in songs),
        "notes_per_bar": _mean(sum(len(b.notes) for b in s.bars) / max(1, len(s.bars)) for s in songs),
        "ioi_hist": (ioi / max(ioi.sum(), 1)).round(4).tolist(),
    }


def groove_similarity(a: dict, b: dict) -> float:
    """Overlap (1 - total variation) of two pooled IOI histograms: 1 = same rhythmic vocabulary."""
    return round(1.0 - 0.5 * float(np.abs(np.asarray(a["ioi_hist"]) - np.asarray(b["ioi_hist"])).sum()), 4)


# ---------------------------------------------------------------- prompt suite: key/mode/meter adherence

PROMPT_STYLES = ("waltz", "jig", "march", "reel", "hymn", "air", "polka", "ballad")
PROMPT_MOODS = {"major": ("happy", "bright", "cheerful", "gentle"), "minor": ("melancholic", "sad", "dark", "wistful")}
PROMPT_TEMPI = ("slow", "lively", "moderato", "fast", "andante")


def prompt_suite(n: int = 100) -> list[str]:
    """n prompts that each name a key and mode (all 24 keys in turn), with varied style, mood and tempo words."""
    from bridge.analysis.names import tonic_name

    out = []
    for i in range(n):
        k = i % 24
        mode = ("major", "minor")[k % 2]
        tonic = (7 * (k // 2)) % 12
        words = (PROMPT_TEMPI[i % len(PROMPT_TEMPI)], PROMPT_MOODS[mode][(i // 2) % 4],
                 PROMPT_STYLES[(i // 3) % len(PROMPT_STYLES)])
        out.append(f"a {words[0]} {words[1]} {words[2]} in {tonic_name(tonic, mode)} {mode}")
    return out


def key_adherence(models, n_prompts: int = 100, bars: int = 8, seed: int = 0, retries: int = 2) -> dict:
    """Generate one piece per prompt; the share that `estimate_key` hears in the asked key and mode, and
    the share in the asked meter. `key_mode_accuracy` is a single sampling pass (no re-sampling);
    `key_mode_accuracy_with_retries` is what `generate` delivers by default (up to `retries` re-samples).
    Runs on any steppers (ONNX runtime or torch)."""
    from bridge.generation.generate import generate_song_in_key
    from bridge.generation.prompt import parse_prompt

    rows = []
    for i, text in enumerate(prompt_suite(n_prompts)):
        c = parse_prompt(text).with_(bars=bars, seed=seed * 100_003 + i)
        song, attempts = generate_song_in_key(models, c, retries)
        est = estimate_key(song_to_piece(song).notes)
        ok = est.tonic_pc == c.tonic_pc and est.mode == c.mode
        rows.append({"prompt": text, "asked": c.key_name, "heard": est.name, "meter": c.meter, "attempts": attempts,
                     "first_ok": attempts == 1 and ok, "key_ok": ok, "meter_ok": meter_ok(song)})
    return {"prompts": len(rows), "bars": bars,
            "key_mode_accuracy": round(float(np.mean([r["first_ok"] for r in rows])), 4),
            "key_mode_accuracy_with_retries": round(float(np.mean([r["key_ok"] for r in rows])), 4),
            "retries": retries,
            "meter_accuracy": round(float(np.mean([r["meter_ok"] for r in rows])), 4),
            "failures": [r for r in rows if not r["first_ok"]][:12]}
