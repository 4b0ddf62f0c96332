"""Helpers for library tests: real MIDI files (tests/library/data, from music21's corpus) plus broken ones."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
EXAMPLE = Path(__file__).resolve().parents[2] / "bridge" / "assets" / "examples" / "chorale.mid"


def copy_good_files(dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for src in sorted(DATA.glob("*.mid")) + [EXAMPLE]:
        shutil.copy(src, dest / src.name)
        out.append(dest / src.name)
    return out


def write_bad_files(dest: Path) -> dict[str, str]:
    """One file per way a real library is broken; value = a word the reported reason must contain."""
    import symusic

    dest.mkdir(parents=True, exist_ok=True)
    (dest / "empty.mid").write_bytes(b"")
    data = EXAMPLE.read_bytes()
    (dest / "truncated.mid").write_bytes(data[: len(data) // 3])
    (dest / "random.mid").write_bytes(np.random.default_rng(1).bytes(3000))
    (dest / "garbage_header.midi").write_bytes(b"MThd" + np.random.default_rng(2).bytes(3000))

    def score_with(notes_time, tempo_qpm=120.0):
        n = len(notes_time)
        score = symusic.Score(480)
        score.tempos.append(symusic.Tempo(0, tempo_qpm))
        track = symusic.Track(program=0)
        rng = np.random.default_rng(3)
        track.notes = symusic.Note.from_numpy(
            time=np.asarray(notes_time, np.int32),
            duration=np.full(n, 240, np.int32),
            pitch=rng.integers(48, 84, n).astype(np.int8),
            velocity=np.full(n, 80, np.int8),
        )
        score.tracks.append(track)
        return score

    score_with(np.arange(32) * 480, tempo_qpm=5000.0).dump_midi(str(dest / "absurd_tempo.mid"))
    score_with(np.arange(300) * 480 * 40).dump_midi(str(dest / "absurd_length.mid"))
    rng = np.random.default_rng(4)
    score_with(np.sort(rng.integers(0, 200 * 480, 200_000))).dump_midi(str(dest / "notes_200k.mid"))
    return {
        "empty.mid": "empty",
        "truncated.mid": "truncated",
        "random.mid": "not a MIDI file",
        "garbage_header.midi": "MIDI",
        "absurd_tempo.mid": "tempo",
        "absurd_length.mid": "quarters",
        "notes_200k.mid": "notes",
    }


SKIPPED = {"empty.mid", "truncated.mid", "random.mid", "garbage_header.midi"}  # the rest are capped


def touch_later(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
