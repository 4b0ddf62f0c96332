"""Songs (key, meter, tempo, per-bar chords and melody) <-> token streams <-> Pieces. Pure functions.

A `Song` is the aligned (backbone, melody) pair: every bar holds one chord per beat, a rhythm density, a
cadence flag and the melody notes on a sixteenth grid. Training, the sampler and the CLI all go through it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from bridge.analysis.meter import beat_quarters
from bridge.generation import vocab as V
from bridge.generation.harmony import label_windows, window_histograms
from bridge.music import NoteList, Piece, TempoChange, TimeSignature

CHORD_PROGRAM = 0  # acoustic grand (the texture's default chord instrument)
MELODY_PROGRAM = 73  # flute: stands apart from the chords when auditioned


@dataclass(frozen=True)
class BarEvents:
    chords: tuple[int, ...]  # one chord token per beat
    density: int = 1
    cadence: bool = False
    notes: tuple[tuple[int, int, int], ...] = ()  # (onset in sixteenths from the bar start, pitch, duration in 16ths)


@dataclass(frozen=True)
class Song:
    tonic_pc: int
    mode: str
    meter: str
    tempo_bpm: float
    bars: tuple[BarEvents, ...] = field(default=())

    @property
    def time_signature(self) -> TimeSignature:
        num, den = (int(x) for x in self.meter.split("/"))
        return TimeSignature(0.0, num, den)

    @property
    def bar_quarters(self) -> float:
        return self.time_signature.bar_quarters


def beats_per_bar(meter: str) -> int:
    num, den = (int(x) for x in meter.split("/"))
    ts = TimeSignature(0.0, num, den)
    return max(1, round(ts.bar_quarters / beat_quarters(ts)))


def positions_per_bar(meter: str) -> int:
    num, den = (int(x) for x in meter.split("/"))
    return int(round(num * 4 / den * V.POSITIONS_PER_QUARTER))


# ---------------------------------------------------------------- notes -> Song


def song_from_notes(lead: np.ndarray, lower: np.ndarray, tonic_pc: int, mode: str, meter: str, tempo_bpm: float,
                    phrase_ends: list[float] | None = None, diatonic_only: bool | None = None) -> Song:
    """Label chords and cut the lead line into bars. `lead`/`lower` are (n, 3) [start, dur, pitch] in quarters.

    Without harmony voices (`lower` empty) chords are matched per half bar against the key's diatonic chords.
    """
    lead = np.asarray(lead, dtype=np.float64).reshape(-1, 3)
    lower = np.asarray(lower, dtype=np.float64).reshape(-1, 3)
    ts = Song(tonic_pc, mode, meter, tempo_bpm).time_signature
    bar_q = ts.bar_quarters
    nbeats = beats_per_bar(meter)
    beat_q = bar_q / nbeats
    end = float((lead[:, 0] + lead[:, 1]).max()) if len(lead) else 0.0
    n_bars = max(1, int(np.ceil(end / bar_q - 1e-6)))
    melody_only = len(lower) == 0
    if diatonic_only is None:
        diatonic_only = melody_only
    if melody_only:
        # Half bars (whole bars in one-beat or three-beat meters) spread to every beat of the window.
        per = nbeats // 2 if nbeats % 2 == 0 else nbeats
        win_edges = np.arange(0, n_bars * nbeats + 1, per) * beat_q
        hist, bass = window_histograms(lead, win_edges)
        labels = label_windows(hist, np.full(len(bass), -1), tonic_pc, mode, diatonic_only)
        labels = [lab for lab in labels for _ in range(per)]
    else:
        edges = np.arange(n_bars * nbeats + 1) * beat_q
        hist, bass = window_histograms(np.concatenate([lead, lower]), edges)
        labels = label_windows(hist, bass, tonic_pc, mode, diatonic_only)
    ends = np.asarray(phrase_ends or [], dtype=np.float64)
    bars = []
    for b in range(n_bars):
        a = b * bar_q
        inbar = lead[(lead[:, 0] >= a - 1e-6) & (lead[:, 0] < a + bar_q - 1e-6)]
        notes: dict[int, tuple[int, int, int]] = {}
        for s, d, p in inbar:
            pos = min(int(round((s - a) * V.POSITIONS_PER_QUARTER)), positions_per_bar(meter) - 1)
            dur = max(1, int(round(d * V.POSITIONS_PER_QUARTER)))
            if pos not in notes or p > notes[pos][1]:  # one note per onset: the top one is the melody
                notes[pos] = (pos, int(p), dur)
        chords = tuple(V.chord_token(r, q, i) for r, q, i in labels[b * nbeats:(b + 1) * nbeats])
        dens = V.density_bucket(len(notes) / nbeats)
        cad = bool(((ends > a + 1e-6) & (ends <= a + bar_q + 1e-6)).any()) if len(ends) else False
        bars.append(BarEvents(chords, dens, cad, tuple(sorted(notes.values()))))
    if not len(ends) and bars:
        # No written phrase marks (folk): four-bar phrases, and the last bar closes the piece.
        bars = [replace(bar, cadence=(i % 4 == 3 or i == len(bars) - 1)) for i, bar in enumerate(bars)]
    return Song(tonic_pc % 12, mode, meter, float(tempo_bpm), tuple(bars))


def song_from_piece(piece: Piece, tonic_pc: int, mode: str, meter: str | None = None,
                    melody_track: int | None = None) -> Song:
    """The melody (highest track, or `melody_track`) of a Piece with chords derived from the rest."""
    notes = piece.notes.pitched()
    meter = meter or str(piece.time_signature_at(0.0))
    if meter not in V.METERS:
        meter = "4/4"
    tracks = sorted(set(notes.track.tolist()))
    if melody_track is None and len(tracks) > 1:
        melody_track = max(tracks, key=lambda t: float(notes.pitch[notes.track == t].mean()))
    is_lead = notes.track == melody_track if melody_track is not None else np.ones(len(notes), bool)
    cols = lambda m: np.stack([notes.start[m], notes.duration[m], notes.pitch[m]], 1)  # noqa: E731
    return song_from_notes(cols(is_lead), cols(~is_lead), tonic_pc, mode, meter, piece.tempo_at(0.0))


# ---------------------------------------------------------------- Song <-> tokens


def header_tokens(song: Song) -> list[int]:
    return [V.BOS, V.key_token(song.tonic_pc, song.mode), V.meter_token(song.meter), V.tempo_token(song.tempo_bpm)]


def backbone_bar_tokens(bar: BarEvents) -> list[int]:
    return [V.BAR, V.DENS0 + bar.density, *bar.chords] + ([V.CAD] if bar.cadence else [])


def melody_bar_prefix(bar: BarEvents) -> list[int]:
    """The conditioning part of a melody segment: the bar's chords (given, never predicted)."""
    return [V.BAR, *bar.chords]


def melody_bar_notes(bar: BarEvents) -> list[int]:
    out: list[int] = []
    for pos, pitch, dur in bar.notes:
        out += [V.POS0 + pos, V.pitch_token(pitch), V.duration_token(dur)]
    return out + [V.EOB]


def backbone_tokens(song: Song, eos: bool = True) -> np.ndarray:
    toks = header_tokens(song)
    for bar in song.bars:
        toks += backbone_bar_tokens(bar)
    return np.asarray(toks + ([V.EOS] if eos else []), dtype=np.int64)


def melody_tokens(song: Song, eos: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Token stream and loss mask (1 where the model predicts the token: notes, EOB, EOS)."""
    toks = header_tokens(song)
    mask = [0] * len(toks)
    for bar in song.bars:
        pre, body = melody_bar_prefix(bar), melody_bar_notes(bar)
        toks += pre + body
        mask += [0] * len(pre) + [1] * len(body)
    if eos:
        toks.append(V.EOS)
        mask.append(1)
    return np.asarray(toks, dtype=np.int64), np.asarray(mask, dtype=np.int64)


def parse_header(tokens) -> tuple[int, str, str, float]:
    tonic, mode = V.key_of_token(int(tokens[1]))
    meter = V.METERS[int(tokens[2]) - V.METER0]
    tempo = V.TEMPO_CENTRES[int(tokens[3]) - V.TEMPO0]
    return tonic, mode, meter, float(tempo)


def bars_from_backbone(tokens) -> list[BarEvents]:
    bars: list[BarEvents] = []
    cur: dict | None = None
    for t in (int(x) for x in tokens):
        if t == V.BAR:
            if cur is not None:
                bars.append(BarEvents(tuple(cur["chords"]), cur["dens"], cur["cad"]))
            cur = {"chords": [], "dens": 1, "cad": False}
        elif cur is None:
            continue
        elif V.DENS0 <= t < V.DENS0 + V.N_DENSITY:
            cur["dens"] = t - V.DENS0
        elif V.is_chord(t):
            cur["chords"].append(t)
        elif t == V.CAD:
            cur["cad"] = True
        elif t == V.EOS:
            break
    if cur is not None:
        bars.append(BarEvents(tuple(cur["chords"]), cur["dens"], cur["cad"]))
    return bars


def notes_from_melody_bar(tokens) -> tuple[tuple[int, int, int], ...]:
    """(pos, pitch, dur) triples from one bar's melody tokens (anything malformed is skipped)."""
    out = []
    toks = [int(t) for t in tokens]
    for i in range(len(toks) - 2):
        a, b, c = toks[i:i + 3]
        if V.POS0 <= a < V.PITCH0 and V.PITCH0 <= b < V.DUR0 and V.DUR0 <= c < V.VOCAB_SIZE:
            out.append((a - V.POS0, b - V.PITCH0 + V.PITCH_LOW, V.DURATIONS[c - V.DUR0]))
    return tuple(out)


def transpose_song(song: Song, semitones: int) -> Song:
    """Same song in another key; melody moved by the nearest octave-equivalent shift inside the pitch range."""
    k = semitones % 12
    if k > 6:
        k -= 12
    bars = []
    for bar in song.bars:
        chords = []
        for t in bar.chords:
            r, q, inv = V.chord_of_token(t)
            chords.append(V.chord_token(r + k, q, inv))
        notes = tuple((pos, p + k, d) for pos, p, d in bar.notes)
        bars.append(replace(bar, chords=tuple(chords), notes=notes))
    return replace(song, tonic_pc=(song.tonic_pc + k) % 12, bars=tuple(bars))


# ---------------------------------------------------------------- Song -> Piece


def chord_voicing(root: int, quality: int, inversion: int) -> list[int]:
    """Close voicing around middle C with the bass an octave below (root, third or fifth per inversion)."""
    pcs = V.chord_pcs(root, quality)
    bass_pc = pcs[min(inversion, len(pcs) - 1)]
    bass = 36 + (bass_pc - 36) % 12
    upper = sorted(55 + (pc - 55) % 12 for pc in pcs)
    return [bass] + upper


def song_to_piece(song: Song, style=None, phrase_len: int = 4, melody_from: int = 0, accompany_from: int = 0,
                  names: dict[str, str] | None = None) -> Piece:
    """The song realised by `texture.realize_bar`, bar by bar: one track per role of `style` (chords, bass,
    melody, drums; default: `texture.style_for(meter)`), each with its program, plus one track per doubling
    instrument. Bars before `melody_from` get no melody and bars before `accompany_from` no accompaniment
    (--continue / --harmonize keep the user's own notes there). Track names are the role names."""
    from bridge.generation.texture import ROLES, TextureState, realize_bar, style_for

    style = style or style_for(song.meter, ())
    bar_q = song.bar_quarters
    roles = [r for r in ROLES if style.on(r)]
    tracks: list[tuple[str, str, int]] = [(r, (names or {}).get(r, r), style.program(r)) for r in roles]
    tracks += [(role, f"{role} {k + 2}", prog) for k, (role, prog) in enumerate(style.doubles) if style.on(role)]
    rows: list[tuple] = []
    state = TextureState()
    for b, bar in enumerate(song.bars):
        notes, state = realize_bar(song, bar, b, state, style, phrase_len)
        a = b * bar_q
        for n in notes:
            if (n.role == "melody" and b < melody_from) or (n.role != "melody" and b < accompany_from):
                continue
            for ti, (role, _name, prog) in enumerate(tracks):
                if role == n.role:
                    rows.append((a + n.start_q, n.dur_q, n.pitch, n.velocity, prog, role == "drums", ti))
    cols = list(zip(*rows)) if rows else [[]] * 7
    notes = NoteList.from_columns(*cols)
    num, den = (int(x) for x in song.meter.split("/"))
    return Piece(notes=notes, tempos=(TempoChange(0.0, float(song.tempo_bpm)),),
                 time_signatures=(TimeSignature(0.0, num, den),), track_names=tuple(t[1] for t in tracks))


def piece_roles(piece: Piece) -> list[str]:
    """The role of each track of a `song_to_piece` Piece ("chords 2" doubles the chords)."""
    return [name.split(" ")[0] for name in piece.track_names]


def melody_notes(song: Song) -> NoteList:
    from bridge.generation.texture import style_for

    piece = song_to_piece(song, style_for(song.meter, (), tracks=("melody",)))
    return piece.notes


def song_to_dict(song: Song) -> dict:
    return {"key": [song.tonic_pc, song.mode], "meter": song.meter, "tempo": song.tempo_bpm,
            "bars": [[list(b.chords), b.density, int(b.cadence), [list(n) for n in b.notes]] for b in song.bars]}


def song_from_dict(d: dict) -> Song:
    bars = tuple(BarEvents(tuple(c), int(dens), bool(cad), tuple(tuple(n) for n in notes))
                 for c, dens, cad, notes in d["bars"])
    return Song(int(d["key"][0]), d["key"][1], d["meter"], float(d["tempo"]), bars)
