"""Build the analysis fixtures in tests/analysis/data/ from real scores in the music21 corpus.

No performance MIDI of these pieces is available offline, so the fixtures are the real notes of the
scores, written as the public MIDI renditions write them:

- `bwv846_prelude.mid`: Bach, WTC I Prelude in C (BWV 846), music21's `bach/bwv846.mxl`, piano, with a
  sequenced performer's tempo map: a tempo event on every beat drifting around 75 BPM (a deterministic
  mean-reverting random walk within 70-80, 0.01 BPM resolution), a ritardando over the last two bars
  down to 49, and the final held chord at 27 BPM. That is the shape that made the old "tempo in force
  for the most quarters" rule answer 27 BPM (Largo): a beat tempo repeats at most twice, so the four
  quarters of the last bar won.
- `maple_leaf_rag.mid`: Joplin, Maple Leaf Rag (1899), music21's `joplin/maple_leaf_rag.mxl` with its
  repeats expanded by music21 (A B B A C C D D), at its printed 100 BPM (a quarter note of 2/4). The
  pickup is padded to a full bar as MIDI files do. Keys: A and B strains Ab major, the trio (C) Db
  major (the subdominant), D back in Ab.
- `maple_leaf_rag_to_trio.mid`: the same notes in the same order up to the end of the repeated trio
  (A B B A C C, the D strain left off). This is march form, which many rags and marches follow: they
  end in the trio's key, the subdominant, yet the tonic governs most of the piece (66 of 98 bars here).

    .venv-dev/bin/python tests/analysis/make_fixtures.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from bridge.music import NoteList, Piece, TempoChange, TimeSignature, save_midi  # noqa: E402

DATA = HERE / "data"

# Bars (1-based, in the MIDI file's own bar grid) where each rag strain starts, from the expanded score.
MAPLE_TRIO_BARS = (67, 83)  # the two passes of the trio (C strain) start here; D starts at bar 99


def _score_rows(score) -> list[tuple[float, float, int, int]]:
    rows = []
    for track, part in enumerate(score.parts):
        for n in part.flatten().stripTies().notes:
            if n.quarterLength > 0:
                rows += [(float(n.offset), float(n.quarterLength), p.midi, track) for p in n.pitches]
    return sorted(rows)


def _piece(rows, tempos, meter, velocity: int = 72) -> Piece:
    start, duration, pitch, track = (np.array(c) for c in zip(*rows))
    n = len(rows)
    notes = NoteList.from_columns(start, duration, pitch, [velocity] * n, [0] * n, [False] * n, track)
    return Piece(
        notes=notes,
        tempos=tuple(tempos),
        time_signatures=(TimeSignature(0.0, *meter),),
        track_names=("Piano right hand", "Piano left hand"),
    )


def bwv846_tempo_map(bars: int) -> list[TempoChange]:
    """One tempo event per beat around 75 BPM; ritardando over the last two bars; final chord at 27."""
    rng = np.random.default_rng(846)
    tempos, bpm = [], 75.0
    last_bar = bars - 1  # 0-based index of the final bar (the held chord)
    rit_from = (last_bar - 2) * 4.0
    for beat in range(bars * 4):
        t = float(beat)
        if t >= last_bar * 4.0:
            tempos.append(TempoChange(t, 27.0))
            break
        if t >= rit_from:
            frac = (t - rit_from) / 8.0
            tempos.append(TempoChange(t, round(75.0 - 30.0 * frac, 2)))
            continue
        bpm += 0.3 * (75.0 - bpm) + rng.normal(0.0, 1.5)  # a performer's drift, pulled back towards 75
        tempos.append(TempoChange(t, round(float(np.clip(bpm, 70.0, 80.0)), 2)))
    return tempos


def build_bwv846() -> Piece:
    from music21 import corpus

    score = corpus.parse("bach/bwv846.mxl")
    rows = _score_rows(score)
    bars = int(round(max(s + d for s, d, _, _ in rows) / 4.0))
    return _piece(rows, bwv846_tempo_map(bars), (4, 4))


def build_maple_leaf(stop_after_trio: bool = False) -> Piece:
    from music21 import corpus

    score = corpus.parse("joplin/maple_leaf_rag.mxl").expandRepeats()
    pickup = float(score.parts[0].getElementsByClass("Measure")[0].duration.quarterLength)
    pad = 2.0 - pickup  # 2/4: pad the pickup measure to a whole bar
    rows = [(s + pad, d, p, t) for s, d, p, t in _score_rows(score)]
    if stop_after_trio:
        d_strain = (MAPLE_TRIO_BARS[1] - 1 + 16) * 2.0  # quarters at the start of bar 99
        rows = [r for r in rows if r[0] < d_strain - 1e-6]
        rows = [(s, min(d, d_strain - s), p, t) for s, d, p, t in rows]
    return _piece(rows, [TempoChange(0.0, 100.0)], (2, 4))


def main() -> int:
    DATA.mkdir(exist_ok=True)
    save_midi(build_bwv846(), DATA / "bwv846_prelude.mid")
    save_midi(build_maple_leaf(), DATA / "maple_leaf_rag.mid")
    save_midi(build_maple_leaf(stop_after_trio=True), DATA / "maple_leaf_rag_to_trio.mid")
    for p in sorted(DATA.glob("*.mid")):
        print(p.relative_to(HERE.parent.parent), p.stat().st_size, "bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
