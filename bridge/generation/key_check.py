"""Is a generated song heard in the key it was asked for? The check `generate` retries on and `metrics`
reports; its own module so that generation and measurement do not import each other."""

from __future__ import annotations

from bridge.analysis.key import estimate_key
from bridge.generation.encoding import Song, song_to_piece


def key_matches(song: Song) -> bool:
    """Whether the project's key analysis hears the song (chords + melody) in the key it was asked for."""
    est = estimate_key(song_to_piece(song).notes)
    return est.tonic_pc == song.tonic_pc % 12 and est.mode == song.mode
