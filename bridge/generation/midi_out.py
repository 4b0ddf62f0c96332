"""Writing generated pieces with a channel per track, and adding tracks beside a user's own file.

`symusic` (bridge.music.save_midi) numbers channels by track order; generation needs more: the channel each
role asked for, and for `--continue` / `--harmonize` the user's file kept *as it is* (every note's pitch,
time, velocity, channel and program) with the new tracks appended. Both go through mido, which the runtime
already depends on. Writes are atomic (a temporary name, then a rename).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bridge.music import Piece

DRUM_CHANNEL = 9


class MidiWriteError(Exception):
    """The output cannot be written (folder missing, not writable, unsupported source file); one line."""


@dataclass(frozen=True)
class SourceVoice:
    """The user's lead line in a source file: where its notes are and how they sound."""

    channel: int
    program: int
    track: int


def check_out_path(path: Path) -> None:
    """Fail early, with one line, when `path` cannot be written."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.exists() and path.is_dir():
        raise MidiWriteError(f"--out {path}: is a folder; give a file name such as {path / 'out.mid'}")
    if not parent.exists():
        raise MidiWriteError(f"--out {path}: folder {parent} does not exist")
    if not parent.is_dir():
        raise MidiWriteError(f"--out {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK):
        raise MidiWriteError(f"--out {path}: folder {parent} is not writable")


def _track_messages(piece: Piece, track: int, channel: int, tpq: int, name: str):
    import mido

    n = piece.notes
    mask = n.track == track
    program = int(n.program[mask][0]) if mask.any() else 0
    drum = bool(n.is_drum[mask][0]) if mask.any() else False
    events = []
    for s, d, p, v in zip(n.start[mask], n.duration[mask], n.pitch[mask], n.velocity[mask]):
        on = int(round(float(s) * tpq))
        off = max(on + 1, int(round(float(s + d) * tpq)))
        events.append((off, 0, "note_off", int(p), 0))  # at equal times, offs before ons (repeated notes)
        events.append((on, 1, "note_on", int(p), int(max(1, min(127, v)))))
    events.sort()
    msgs = [mido.MetaMessage("track_name", name=name, time=0)]
    if not drum:
        msgs.append(mido.Message("program_change", channel=channel, program=program, time=0))
    now = 0
    for t, _, kind, p, v in events:
        msgs.append(mido.Message(kind, channel=channel, note=p, velocity=v, time=t - now))
        now = t
    msgs.append(mido.MetaMessage("end_of_track", time=0))
    return mido.MidiTrack(msgs)


def _conductor(piece: Piece, tpq: int):
    import mido

    msgs = []
    events = [(int(round(t.time * tpq)), "tempo", t) for t in piece.tempos]
    events += [(int(round(ts.time * tpq)), "ts", ts) for ts in piece.time_signatures]
    now = 0
    for tick, kind, ev in sorted(events, key=lambda e: (e[0], e[1])):
        if kind == "tempo":
            # Microseconds per beat rounded down, so the file never reads back slower than asked (76 BPM
            # rounded to the nearest microsecond reads as 75.99997: another tempo bin for a reader).
            msgs.append(mido.MetaMessage("set_tempo", tempo=int(60_000_000 // ev.bpm), time=tick - now))
        else:
            msgs.append(mido.MetaMessage("time_signature", numerator=ev.numerator, denominator=ev.denominator,
                                         time=tick - now))
        now = tick
    msgs.append(mido.MetaMessage("end_of_track", time=0))
    return mido.MidiTrack(msgs)


def _save(mid, path: Path) -> None:
    path = Path(path)
    check_out_path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        mid.save(str(tmp))
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise MidiWriteError(f"--out {path}: {e.strerror or e}") from e


def write_piece(piece: Piece, path: Path, channels: list[int], ticks_per_quarter: int = 480) -> None:
    """A type-1 file: a conductor track (tempo, meter), then one track per Piece track on `channels[i]`."""
    import mido

    mid = mido.MidiFile(type=1, ticks_per_beat=ticks_per_quarter)
    mid.tracks.append(_conductor(piece, ticks_per_quarter))
    for t, ch in enumerate(channels):
        name = piece.track_names[t] if t < len(piece.track_names) else f"track {t}"
        mid.tracks.append(_track_messages(piece, t, ch, ticks_per_quarter, name))
    _save(mid, path)


def source_channels(source: Path) -> set[int]:
    """Channels the notes of a MIDI file use."""
    import mido

    mid = mido.MidiFile(str(source))
    return {m.channel for tr in mid.tracks for m in tr if m.type in ("note_on", "note_off")}


def source_lead(source: Path) -> SourceVoice | None:
    """The (track, channel) group with the highest mean pitch, and the program sounding at its first note."""
    import mido

    mid = mido.MidiFile(str(source))
    best, best_mean = None, -1.0
    for ti, tr in enumerate(mid.tracks):
        programs: dict[int, int] = {}
        pitches: dict[int, list[int]] = {}
        first_program: dict[int, int] = {}
        for m in tr:
            if m.type == "program_change":
                programs[m.channel] = m.program
            elif m.type == "note_on" and m.velocity > 0 and m.channel != DRUM_CHANNEL:
                pitches.setdefault(m.channel, []).append(m.note)
                first_program.setdefault(m.channel, programs.get(m.channel, 0))
        for ch, ps in pitches.items():
            mean = sum(ps) / len(ps)
            if mean > best_mean:
                best, best_mean = SourceVoice(ch, first_program[ch], ti), mean
    return best


def append_tracks(source: Path, piece: Piece, path: Path, channels: list[int]) -> None:
    """The user's file unchanged, with the Piece's tracks appended (in the source's own tick resolution)."""
    import mido

    try:
        mid = mido.MidiFile(str(source))
    except (OSError, EOFError, ValueError) as e:
        raise MidiWriteError(f"{source}: cannot read it to add tracks: {e}") from e
    if mid.type == 2:
        raise MidiWriteError(f"{source}: type-2 MIDI (independent sequences) cannot take added tracks")
    if mid.type == 0:
        mid.type = 1  # the single track stays as it is; new tracks go beside it
    tpq = mid.ticks_per_beat
    for t, ch in enumerate(channels):
        name = piece.track_names[t] if t < len(piece.track_names) else f"track {t}"
        if (piece.notes.track == t).any():
            mid.tracks.append(_track_messages(piece, t, ch, tpq, name))
    _save(mid, path)


def assign_channels(roles: list[str], wanted: dict[str, int], taken: set[int] = frozenset(),
                    fixed: dict[str, int] | None = None) -> list[int]:
    """A channel per track: drums on 10 (index 9), a `fixed` role exactly on its channel (a continuation on
    the channel of the phrase it continues), each other role on the channel it asked for unless the source
    file already uses it, the rest (doublings) on the lowest free channels."""
    fixed = dict(fixed or {})
    used = set(taken) | set(fixed.values())
    out: list[int] = []
    for role in roles:
        if role == "drums":
            out.append(DRUM_CHANNEL)
            continue
        if role in fixed:
            out.append(fixed.pop(role))
            continue
        ch = wanted.get(role)
        if ch is None or ch in used or ch == DRUM_CHANNEL:
            free = [c for c in range(16) if c != DRUM_CHANNEL and c not in used]
            if not free:
                raise MidiWriteError("no free MIDI channel left for the added tracks (16 in use)")
            ch = free[0]
        used.add(ch)
        out.append(ch)
    return out
