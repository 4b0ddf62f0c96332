"""Texture: one line, one line with harmony (or voices moving together), or independent lines.

- monophonic: two or more notes sound together for under MONOPHONIC_MAX_OVERLAP of the sounding time;
- polyphonic: at least two voices are melodic lines (one note at a time, mostly by step) and their
  attacks mostly differ (mean pairwise Jaccard overlap of onset sets under LINES_MAX_SHARED_ONSETS);
- homophonic: anything else, i.e. chorale-like homorhythm, melody plus chords, arpeggiated harmony.

Voices are the tracks; a single-track piece is split at the pitch that best separates it into an upper
and a lower part. Calibrated on the music21 corpus: Bach chorales share 0.65-0.77 of onsets between
voices, Palestrina masses 0.27-0.31, Monteverdi madrigals 0.31-0.44; arpeggiated preludes have no
stepwise lines.
"""

from __future__ import annotations

import itertools

import numpy as np

from bridge.music import NoteList

TEXTURES = ("monophonic", "homophonic", "polyphonic")

MONOPHONIC_MAX_OVERLAP = 0.1  # legato overlaps of one line stay under this
LINE_MAX_OVERLAP = 0.2  # a voice with more simultaneity than this is chords, not a line
LINE_MIN_STEPS = 0.3  # share of a line's pitch changes that are steps (1-2 semitones); arpeggios have few
LINES_MAX_SHARED_ONSETS = 0.5
MIN_VOICE_NOTES = 4
ONSET_GRID = 48  # onsets are compared on a 1/48-quarter grid


def polyphony_share(notes: NoteList) -> float:
    """Fraction of the sounding time during which at least two pitched notes sound."""
    pitched = notes.pitched()
    if len(pitched) == 0:
        return 0.0
    times = np.concatenate([pitched.start, pitched.end])
    deltas = np.concatenate([np.ones(len(pitched)), -np.ones(len(pitched))])
    # Ends sort before starts at equal times, so back-to-back notes never count as overlapping.
    order = np.lexsort((deltas, times))
    times, active = times[order], np.cumsum(deltas[order])
    spans = np.diff(times)
    sounding = spans[active[:-1] >= 1].sum()
    several = spans[active[:-1] >= 2].sum()
    return float(several / sounding) if sounding > 0 else 0.0


def step_share(voice: NoteList) -> float:
    """Share of pitch changes between consecutive notes that are steps of one or two semitones."""
    moves = np.abs(np.diff(voice.pitch.astype(np.int64)))
    moves = moves[moves > 0]
    return float(((moves <= 2).sum()) / len(moves)) if len(moves) else 0.0


def is_line(voice: NoteList) -> bool:
    return polyphony_share(voice) < LINE_MAX_OVERLAP and step_share(voice) >= LINE_MIN_STEPS


def split_voices(notes: NoteList) -> list[NoteList]:
    """Tracks with enough notes; one track is cut at the pitch that best separates high from low (1-D 2-means)."""
    pitched = notes.pitched()
    tracks = [pitched.take(pitched.track == t) for t in np.unique(pitched.track)]
    tracks = [v for v in tracks if len(v) >= MIN_VOICE_NOTES]
    if len(tracks) != 1:
        return tracks
    pitch = np.sort(tracks[0].pitch.astype(np.float64))
    if pitch[0] == pitch[-1]:
        return tracks
    cuts = np.unique(pitch)[1:]
    cost = [pitch[pitch < c].var() * (pitch < c).sum() + pitch[pitch >= c].var() * (pitch >= c).sum() for c in cuts]
    cut = cuts[int(np.argmin(cost))]
    voice = tracks[0]
    return [v for v in (voice.take(voice.pitch >= cut), voice.take(voice.pitch < cut)) if len(v) >= MIN_VOICE_NOTES]


def shared_onsets(a: NoteList, b: NoteList) -> float:
    """Jaccard overlap of two voices' attack times."""
    oa = np.unique(np.round(a.start * ONSET_GRID).astype(np.int64))
    ob = np.unique(np.round(b.start * ONSET_GRID).astype(np.int64))
    both = np.intersect1d(oa, ob, assume_unique=True).size
    return both / (oa.size + ob.size - both)


def classify_texture(notes: NoteList) -> str:
    if polyphony_share(notes) < MONOPHONIC_MAX_OVERLAP:
        return "monophonic"
    lines = [v for v in split_voices(notes) if is_line(v)]
    if len(lines) >= 2:
        shared = np.mean([shared_onsets(a, b) for a, b in itertools.combinations(lines, 2)])
        if shared < LINES_MAX_SHARED_ONSETS:
            return "polyphonic"
    return "homophonic"
