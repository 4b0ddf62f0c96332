"""MMA grooves under folk melodies: per-bar diatonic chords derived from the melody, rendered by Debian `mma`.

The chords are *derived* (the best-matching diatonic triad per bar), not written by the source; the
groove name and the accompaniment instruments are true, because MMA really plays them.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bridge.music import NoteList, Piece, load_midi
from models.corpus.keys import Key, pc_in_key

log = logging.getLogger(__name__)


class MmaError(Exception):
    """MMA is missing or failed; str(error) is a one-line reason."""


@dataclass(frozen=True)
class Groove:
    mma_name: str
    words: str  # caption words: "bossa nova"
    bars_per_mma_bar: int  # melody bars packed into one MMA bar (two 2/4 bars = one 4/4 groove bar)
    mma_bar_quarters: float  # length of one MMA bar in MMA's own quarters


GROOVES: dict[str, tuple[Groove, ...]] = {
    "3/4": (Groove("Waltz", "waltz", 1, 3), Groove("CountryWaltz", "country waltz", 1, 3),
            Groove("JazzWaltz", "jazz waltz", 1, 3), Groove("FolkBallad", "folk ballad", 1, 4)),
    "4/4": (Groove("Folk", "folk", 1, 4), Groove("Swing", "swing", 1, 4), Groove("BossaNova", "bossa nova", 1, 4),
            Groove("BasicRock", "rock", 1, 4), Groove("Bluegrass", "bluegrass", 1, 4),
            Groove("CountrySwing", "country swing", 1, 4), Groove("8Beat", "pop 8-beat", 1, 4),
            Groove("Ballad", "ballad", 1, 4), Groove("Polka", "polka", 1, 4)),
    "2/2": (Groove("Folk", "folk", 1, 4), Groove("Bluegrass", "bluegrass", 1, 4), Groove("Swing", "swing", 1, 4),
            Groove("BasicRock", "rock", 1, 4), Groove("CountrySwing", "country swing", 1, 4)),
    "2/4": (Groove("Polka", "polka", 2, 4), Groove("March", "march", 2, 4), Groove("Folk", "folk", 2, 4),
            Groove("Bluegrass", "bluegrass", 2, 4)),
    "6/8": (Groove("68March", "6/8 march", 1, 2),),
}


def groove_options(meter: str) -> tuple[Groove, ...]:
    options = GROOVES.get(meter, ())
    # FolkBallad is a 4/4 style; only keep grooves whose bar fits the meter exactly.
    return tuple(g for g in options if not (meter == "3/4" and g.mma_bar_quarters != 3))


def mma_available() -> bool:
    return shutil.which("mma") is not None


# Triad qualities on each scale degree of a major scale; minor-ish modes borrow the major V.
_DEGREE_QUALITY = ("", "m", "m", "", "", "m", "dim")
_MAJOR_STEPS = (0, 2, 4, 5, 7, 9, 11)


def diatonic_chords(key: Key) -> list[tuple[int, str, float]]:
    """(root_pc, quality suffix, prior) for the key's diatonic triads; tonic, dominant, subdominant favoured."""
    chords = []
    for degree, step in enumerate(_MAJOR_STEPS):
        root = (key.major_pc + step) % 12
        quality = _DEGREE_QUALITY[degree]
        if quality == "dim":
            continue
        rel = (root - key.tonic_pc) % 12
        prior = {0: 0.6, 7: 0.35, 5: 0.3}.get(rel, 0.0)
        chords.append((root, quality, prior))
    if key.mode == "minor":
        dominant = (key.tonic_pc + 7) % 12
        chords = [c for c in chords if c[0] != dominant] + [(dominant, "", 0.3)]
    return chords


def bar_chords(piece: Piece, key: Key) -> list[str]:
    """One derived chord symbol per bar (e.g. "D", "Em"), chosen by duration-weighted chord-tone match."""
    bars = piece.bar_starts()
    edges = np.append(bars, bars[-1] + piece.time_signature_at(bars[-1]).bar_quarters)
    options = diatonic_chords(key)
    n = piece.notes.pitched()
    symbols: list[str] = []
    tonic = _symbol(key.tonic_pc, "m" if key.is_minorish else "", key)
    for i in range(len(bars)):
        lo, hi = edges[i], edges[i + 1]
        overlap = np.minimum(n.end, hi) - np.maximum(n.start, lo)
        mask = overlap > 1e-6
        if not mask.any():
            symbols.append(symbols[-1] if symbols else tonic)
            continue
        weights = overlap[mask] * np.where(np.isclose(n.start[mask], lo), 1.5, 1.0)
        pcs = n.pitch[mask] % 12
        best, best_score = tonic, -1e9
        for root, quality, prior in options:
            third = (root + (3 if quality == "m" else 4)) % 12
            tones = {root: 1.0, third: 0.8, (root + 7) % 12: 0.7}
            score = sum(tones.get(int(pc), -0.6) * w for pc, w in zip(pcs, weights)) / weights.sum() + prior * 0.3
            if score > best_score:
                best, best_score = _symbol(root, quality, key), score
        symbols.append(best)
    if symbols:
        symbols[-1] = tonic  # folk tunes end on the tonic chord
    return symbols


def _symbol(root: int, quality: str, key: Key) -> str:
    return pc_in_key(root, key) + quality


def mma_source(chords: list[str], groove: Groove, bpm: float) -> str:
    """The .mma text: one line per MMA bar; packed melody bars put several chords on one line."""
    lines = [f"Tempo {max(30, min(300, round(bpm)))}", f"Groove {groove.mma_name}"]
    k = groove.bars_per_mma_bar
    for number, i in enumerate(range(0, len(chords), k), start=1):
        group = chords[i : i + k]
        if len(group) < k:
            group = group + [group[-1]] * (k - len(group))
        if k == 1:
            lines.append(f"{number} {group[0]}")
        else:
            beats = int(groove.mma_bar_quarters / k)
            cells = []
            for c in group:
                cells += [c] + ["/"] * (beats - 1)
            lines.append(f"{number} {' '.join(cells)}")
    return "\n".join(lines) + "\n"


def render_groove(piece: Piece, chords: list[str], groove: Groove, timeout: float = 60.0) -> Piece:
    """Run `mma` and return the melody with the accompaniment tracks added (times in the melody's quarters)."""
    if not mma_available():
        raise MmaError("mma is not installed (apt-get install mma)")
    melody_bar = piece.time_signatures[0].bar_quarters
    scale = groove.bars_per_mma_bar * melody_bar / groove.mma_bar_quarters
    with tempfile.TemporaryDirectory(prefix="mb-mma-") as tmp:
        src = Path(tmp) / "groove.mma"
        out = Path(tmp) / "groove.mid"
        src.write_text(mma_source(chords, groove, piece.tempo_at(0.0) / scale))
        try:
            proc = subprocess.run(["mma", "-f", str(out), str(src)], capture_output=True, text=True,
                                  timeout=timeout, cwd=tmp)
        except subprocess.TimeoutExpired as e:
            raise MmaError(f"mma timed out after {timeout:.0f}s") from e
        if proc.returncode != 0 or not out.exists():
            err = (proc.stderr or proc.stdout).strip().splitlines()
            raise MmaError(f"mma failed: {err[-1][:160] if err else proc.returncode}")
        accompaniment = load_midi(out)
    acc = accompaniment.notes
    n_tracks = len(piece.track_names)
    acc = acc.with_(start=acc.start * scale, duration=acc.duration * scale, track=acc.track + n_tracks)
    # Keep the accompaniment under the tune: MMA plays fairly loud by default.
    acc = acc.with_(velocity=np.clip(acc.velocity * 0.8, 1, 127).astype(np.int16))
    acc = acc.take(acc.start < piece.end + 1e-6)
    names = tuple(piece.track_names) + tuple(f"mma {name}" for name in accompaniment.track_names)
    merged: NoteList = piece.notes.concat(acc)
    return Piece(notes=merged, tempos=piece.tempos, time_signatures=piece.time_signatures,
                 key_signatures=piece.key_signatures, track_names=names, warnings=piece.warnings)
