"""Musical metrics of songs (generated or human), pure numpy; `eval generation` puts each beside the same
metric on human held-out pieces. Every metric reads the Song (chords per beat, notes on the 16th grid).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from bridge.analysis.key import estimate_key
from bridge.analysis.qualities import scale_pcs
from bridge.generation import vocab as V
from bridge.generation.encoding import Song, beats_per_bar, positions_per_bar, song_to_piece
from bridge.generation.key_check import key_matches  # noqa: F401  (re-exported: part of the metrics)

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


def meter_ok(song: Song) -> bool:
    """Every bar has one chord per beat and every note starts inside its bar."""
    nb, ppb = beats_per_bar(song.meter), positions_per_bar(song.meter)
    return all(len(b.chords) == nb and all(0 <= p < ppb for p, _, _ in b.notes) for b in song.bars)


# ---------------------------------------------------------------- harmony that moves, melody that varies


def _rq(tok: int) -> tuple[int, int]:
    return V.chord_of_token(tok)[:2]


def distinct_chords_per_16_bars(song: Song) -> float | None:
    """Distinct (root, quality) chords per 16-bar window, averaged over the windows (a shorter song: its own)."""
    if not song.bars:
        return None
    counts = []
    for a in range(0, max(1, len(song.bars) - 15), 16):
        window = song.bars[a:a + 16]
        counts.append(len({_rq(t) for bar in window for t in bar.chords}))
    return float(np.mean(counts))


def tonic_bar_share(song: Song) -> float | None:
    """Share of bars whose downbeat chord is the tonic triad."""
    tonic = (song.tonic_pc % 12, 0 if song.mode == "major" else 1)
    downbeats = [_rq(bar.chords[0]) for bar in song.bars if bar.chords]
    return float(np.mean([d == tonic for d in downbeats])) if downbeats else None


def _is_dominant(rq: tuple[int, int], tonic_pc: int) -> bool:
    return rq[0] == (tonic_pc + 7) % 12 and rq[1] in (0, 4)


def cadence_rate(song: Song, phrase_len: int = 4) -> float | None:
    """Share of phrase ends (bars marked as cadences, else every `phrase_len`-th bar) that close on a cadence:
    V(7) then I within the bar and the one before it (authentic), or V as the bar's last chord (half)."""
    ends = [i for i, bar in enumerate(song.bars) if bar.cadence]
    if not ends:
        ends = [i for i in range(len(song.bars)) if i % phrase_len == phrase_len - 1]
    if not ends:
        return None
    tonic = (song.tonic_pc % 12, 0 if song.mode == "major" else 1)
    hits = 0
    for i in ends:
        seq = [_rq(t) for bar in song.bars[max(0, i - 1):i + 1] for t in bar.chords]
        if not seq:
            continue
        half = _is_dominant(seq[-1], song.tonic_pc)
        authentic = any(_is_dominant(a, song.tonic_pc) and b == tonic for a, b in zip(seq, seq[1:]))
        hits += half or authentic
    return hits / len(ends)


def _bar_set(bar) -> frozenset:
    return frozenset((pos, pitch) for pos, pitch, _ in bar.notes)


def bar_self_similarity(song: Song) -> float | None:
    """Mean Jaccard overlap of (onset, pitch) sets over all pairs of non-empty bars: 0 = no two bars share a
    note, 1 = every bar the same. Human tunes repeat (refrains, sequences); a degenerate loop sits near 1."""
    sets = [_bar_set(b) for b in song.bars if b.notes]
    if len(sets) < 2:
        return None
    sims = [len(a & b) / len(a | b) for i, a in enumerate(sets) for b in sets[i + 1:]]
    return float(np.mean(sims))


def repeated_bar_share(song: Song) -> float | None:
    """Share of non-empty bars whose notes (onset, pitch, duration) repeat an earlier bar exactly."""
    seen, rep, n = set(), 0, 0
    for b in song.bars:
        if not b.notes:
            continue
        n += 1
        rep += b.notes in seen
        seen.add(b.notes)
    return rep / n if n else None


def motif_reuse(song: Song, n: int = 4) -> float | None:
    """Share of melodic n-grams (n successive (pitch interval, inter-onset interval) steps: transposition
    invariant) that occur more than once in the piece: how much of the tune is built from its own motifs."""
    ppb = positions_per_bar(song.meter)
    notes = [(b * ppb + pos, pitch) for b, bar in enumerate(song.bars) for pos, pitch, _ in bar.notes]
    steps = [(p2 - p1, t2 - t1) for (t1, p1), (t2, p2) in zip(notes, notes[1:])]
    grams = [tuple(steps[i:i + n]) for i in range(len(steps) - n + 1)]
    if not grams:
        return None
    counts = Counter(grams)
    return sum(counts[g] > 1 for g in grams) / len(grams)


def pitch_repeat_run(song: Song) -> int:
    """Longest run of successive melody notes on one pitch (the `--temperature 0` failure was 64)."""
    ps = [p for bar in song.bars for _, p, _ in bar.notes]
    best = run = 0
    for i, p in enumerate(ps):
        run = run + 1 if i and p == ps[i - 1] else 1
        best = max(best, run)
    return best


def velocity_spread(piece) -> dict:
    """Velocity standard deviation and range of a realised Piece's pitched notes, overall and per track."""
    notes = piece.notes.pitched()
    if not len(notes):
        return {"std": None, "range": None, "tracks": {}}
    per = {}
    for t in sorted(set(notes.track.tolist())):
        v = notes.velocity[notes.track == t].astype(float)
        name = piece.track_names[t] if t < len(piece.track_names) else str(t)
        per[name] = round(float(v.std()), 2)
    v = notes.velocity.astype(float)
    return {"std": round(float(v.std()), 2), "range": [int(v.min()), int(v.max())], "tracks": per}


def realised_chords_per_16_bars(song: Song, style=None) -> float | None:
    """`distinct_chords_per_16_bars` of what the texture layer plays (V7, V7/V, Vsus4 counted as heard)."""
    from bridge.generation.texture import realized_chords, style_for

    style = style or style_for(song.meter, ())
    heard = [(c.root, c.quality) for i, bar in enumerate(song.bars) for c in realized_chords(song, bar, i, style)]
    if not heard:
        return None
    nb = beats_per_bar(song.meter)
    counts = [len(set(heard[a * nb:(a + 16) * nb])) for a in range(0, max(1, len(song.bars) - 15), 16)]
    return float(np.mean(counts))


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
        "distinct_chords_per_16_bars": _mean(distinct_chords_per_16_bars(s) for s in songs),
        "tonic_bar_share": _mean(tonic_bar_share(s) for s in songs),
        "cadence_rate": _mean(cadence_rate(s) for s in songs),
        "bar_self_similarity": _mean(bar_self_similarity(s) for s in songs),
        "repeated_bar_share": _mean(repeated_bar_share(s) for s in songs),
        "motif_reuse": _mean(motif_reuse(s) for s in songs),
        "longest_pitch_run": _mean(pitch_repeat_run(s) for s in songs),
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


# ---------------------------------------------------------------- instrument adherence (texture layer)

INSTRUMENT_PROMPTS = (
    "a waltz for strings and harp", "a jig on the fiddle with guitar", "a gentle air played on the oboe",
    "a march for trumpet and tuba", "a hymn on the church organ", "a ballad for cello and piano",
    "a reel on the flute with banjo", "a lullaby for clarinet and harp", "a polka with accordion and drums",
    "a sad tune for violin, viola and cello", "a bright piece for marimba", "a slow air on the recorder",
    "a dance for sax, piano, acoustic bass and drums", "a chorale for choir", "an anthem for brass",
    "a tune on the harmonica with guitar",
)


def instrument_adherence(song: Song, prompts=INSTRUMENT_PROMPTS) -> dict:
    """Share of instruments named in `prompts` that a track of the realised piece plays (drums: a drum
    track). Instruments come from the search parser (`bridge.query.parse_query`); `song` is any song in a
    meter (the texture layer alone decides the instruments)."""
    from bridge.generation.texture import style_for
    from bridge.query import parse_query

    asked = held = 0
    misses = []
    for text in prompts:
        piece = song_to_piece(song, style_for(song.meter, text))
        programs = {128 if d else int(p) for p, d in zip(piece.notes.program, piece.notes.is_drum)}
        for term in parse_query(text).instruments:
            asked += 1
            if set(term.programs) & programs:
                held += 1
            else:
                misses.append(f"{text}: {term.label}")
    return {"instruments": asked, "adherence": round(held / asked, 4) if asked else None, "misses": misses}


# ---------------------------------------------------------------- the variation/harmony table beside human pieces

REPORT_KEYS = ("distinct_chords_per_16_bars", "tonic_bar_share", "cadence_rate", "chord_progression_entropy_bits",
               "chord_tone_ratio_strong_beats", "bar_self_similarity", "repeated_bar_share", "motif_reuse",
               "longest_pitch_run", "pitch_class_entropy_bits")
_PER_SONG = {"distinct_chords_per_16_bars": distinct_chords_per_16_bars, "tonic_bar_share": tonic_bar_share,
             "cadence_rate": cadence_rate, "bar_self_similarity": bar_self_similarity,
             "repeated_bar_share": repeated_bar_share, "motif_reuse": motif_reuse}


def variation_report(models, human: list[Song], n_prompts: int = 48, bars: int = 16, biases=None) -> dict:
    """Generated songs (`prompt_suite(n_prompts)`, seeds 0..n-1, single pass) beside human held-out songs
    (those of 8 bars or more): each metric's mean, the human per-song 10th-90th percentile range, realised
    chords, velocity spread of the realised piece and the temperature-0 check. Runs on any steppers."""
    from bridge.generation.generate import Biases, generate_song, generate_song_in_key
    from bridge.generation.prompt import parse_prompt
    from bridge.generation.texture import style_for

    b = biases or Biases()
    human = [h for h in human if len(h.bars) >= 8]
    songs, vel = [], []
    for i, text in enumerate(prompt_suite(n_prompts)):
        song, _ = generate_song_in_key(models, parse_prompt(text).with_(bars=bars, seed=i), 0, b)
        songs.append(song)
        vel.append(velocity_spread(song_to_piece(song, style_for(song.meter, text)))["std"])

    def table(group):
        s = summarize(group)
        out = {k: s[k] for k in REPORT_KEYS}
        out["realised_chords_per_16_bars"] = _mean(realised_chords_per_16_bars(x) for x in group)
        return out

    ranges = {}
    for k, f in _PER_SONG.items():
        xs = [x for x in (f(h) for h in human) if x is not None]
        ranges[k] = [round(float(np.percentile(xs, 10)), 3), round(float(np.percentile(xs, 90)), 3)] if xs else None
    t0 = generate_song(models, parse_prompt("a tune in C major").with_(bars=16, seed=0, temperature=0.0), b)
    gen = table(songs)
    gen["key_accuracy_single_pass"] = round(float(np.mean([key_matches(s) for s in songs])), 4)
    gen["velocity_std"] = _mean(vel)
    return {"generated": gen, "human": table(human) if human else None, "human_p10_p90": ranges,
            "n_generated": len(songs), "n_human": len(human), "bars": bars,
            "temperature_0": {"longest_pitch_run": pitch_repeat_run(t0),
                              "distinct_pitches": len({p for b in t0.bars for _, p, _ in b.notes})}}
