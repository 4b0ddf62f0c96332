"""The library's public value types: queries, hits, reports, and the encoder it is given."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from bridge.music import Piece

# Bumped whenever a field of `Hit.to_dict()` / the search JSON changes meaning or disappears.
SEARCH_SCHEMA_VERSION = 1


@runtime_checkable
class Encoder(Protocol):
    """What the library needs from a dual encoder (bridge.inference.RetrievalEncoders fits)."""

    name: str
    dim: int

    def encode_text(self, texts: Sequence[str]) -> np.ndarray: ...  # (n, dim) float32, L2-normalised

    def encode_pieces(self, pieces: Sequence[Piece]) -> np.ndarray: ...  # (n, dim) float32, L2-normalised


def model_key(encoder: Encoder) -> str:
    """Identity of the embedding space: a changed key means every stored vector is stale.

    `name` alone survives a retrain, so a content fingerprint is added: the encoder's own (`fingerprint`) if it
    offers one, else one of the files its stored vectors come from (`vector_files`: the MIDI tower, so a new
    text tower over the same MIDI tower re-embeds nothing), else of every file of its `model_dir`.
    """
    value = getattr(encoder, "fingerprint", None)
    if not (isinstance(value, str) and value):
        files = getattr(encoder, "vector_files", None)
        model_dir = getattr(encoder, "model_dir", None)
        if files:
            value = files_fingerprint([Path(f) for f in files])
        else:
            value = dir_fingerprint(Path(model_dir)) if model_dir is not None else ""
    return f"{encoder.name}@{value}" if value else str(encoder.name)


def dir_fingerprint(model_dir: Path, sample: int = 1 << 20) -> str:
    """Hash of every file's name, size, head and tail: cheap (no 90 MB read per search) yet changes on re-export."""
    try:
        files = sorted(p for p in model_dir.iterdir() if p.is_file())
    except OSError:
        return ""
    return files_fingerprint(files, sample)


def files_fingerprint(files: list[Path], sample: int = 1 << 20) -> str:
    """Hash of `files`' names, sizes, heads and tails ("" when one cannot be read)."""
    h = hashlib.blake2b(digest_size=8)
    try:
        for p in files:
            size = p.stat().st_size
            h.update(f"{p.name}:{size}".encode())
            with open(p, "rb") as f:
                h.update(f.read(sample))
                if size > 2 * sample:
                    f.seek(-sample, os.SEEK_END)
                    h.update(f.read(sample))
    except OSError:
        return ""
    return h.hexdigest()


@dataclass(frozen=True)
class SearchQuery:
    """One search. `text` and `like_piece` are alternatives; the other fields are hard filters."""

    text: str | None = None
    k: int = 10
    key: str | None = None  # "A minor", "F#", "Bb major"
    mode: str | None = None  # "major" | "minor"
    tempo: tuple[float, float] | None = None  # BPM range, inclusive
    meter: str | None = None  # "3/4"
    instrument: str | None = None  # GM name or family word: "piano", "violin", "strings"
    min_bars: int | None = None
    like_piece: Piece | None = None
    exclude_file: str | None = None  # usually the file `like_piece` came from
    exclude_hash: str | None = None  # same file under another name
    # Query by example only: also search `like_piece` moved by each of ranking.TRANSPOSE_SHIFTS (-5..+6)
    # semitones and keep each window's best; the hit's `transpose` says by how much (default on for a played phrase).
    transpose: bool = False


@dataclass(frozen=True)
class Hit:
    """A window of a library file. Bars are 1-based and inclusive: bars 5-12 is an 8-bar window."""

    file: str
    window_start_bar: int
    window_end_bar: int
    start_seconds: float
    end_seconds: float
    score: float
    key: str
    tempo: float
    meter: str
    instruments: tuple[str, ...]
    start_quarters: float = 0.0
    end_quarters: float = 0.0
    tempo_word: str = ""
    matched: tuple[str, ...] = ()  # constraints from the query text this window satisfies
    missed: tuple[str, ...] = ()  # ... and those it does not
    # Semitones the example was moved to match this window (window ≈ example + transpose); play the hit
    # moved by -transpose to hear it in the player's key. 0 for text searches.
    transpose: int = 0

    def to_dict(self) -> dict:
        return {
            "file": self.file,
            "bars": [self.window_start_bar, self.window_end_bar],
            "seconds": [round(self.start_seconds, 3), round(self.end_seconds, 3)],
            "quarters": [round(self.start_quarters, 4), round(self.end_quarters, 4)],
            "score": round(float(self.score), 5),
            "key": self.key,
            "tempo": round(float(self.tempo), 2),
            "tempo_word": self.tempo_word,
            "meter": self.meter,
            "instruments": list(self.instruments),
            "matched": list(self.matched),
            "missed": list(self.missed),
            "transpose": int(self.transpose),
        }


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    ranking: str  # "embedding" | "features"
    constraints: dict  # what was parsed out of the text
    warnings: tuple[str, ...] = ()
    windows_searched: int = 0

    def to_dict(self, query: SearchQuery | None = None) -> dict:
        out: dict = {"schema_version": SEARCH_SCHEMA_VERSION}
        if query is not None:
            out["query"] = {
                "text": query.text,
                "k": query.k,
                "key": query.key,
                "mode": query.mode,
                "tempo": list(query.tempo) if query.tempo else None,
                "meter": query.meter,
                "instrument": query.instrument,
                "min_bars": query.min_bars,
                "like": query.exclude_file,
            }
        out.update(
            ranking=self.ranking,
            constraints=self.constraints,
            windows_searched=self.windows_searched,
            warnings=list(self.warnings),
            hits=[h.to_dict() for h in self.hits],
        )
        return out


@dataclass(frozen=True)
class FileIssue:
    path: str
    reason: str
    status: str  # "skipped" (not indexed) | "capped" (indexed with part of it dropped)

    def to_dict(self) -> dict:
        return {"path": self.path, "status": self.status, "reason": self.reason}


@dataclass
class IndexReport:
    roots: list[str] = field(default_factory=list)
    files_seen: int = 0
    added: int = 0
    updated: int = 0
    renamed: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped_new: int = 0
    windows: int = 0
    embedded: int = 0
    model: str | None = None
    seconds: float = 0.0
    issues: list[FileIssue] = field(default_factory=list)

    @property
    def files_per_second(self) -> float:
        analysed = self.added + self.updated + self.skipped_new
        return analysed / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return {
            "roots": self.roots,
            "files_seen": self.files_seen,
            "added": self.added,
            "updated": self.updated,
            "renamed": self.renamed,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "skipped_new": self.skipped_new,
            "windows": self.windows,
            "embedded": self.embedded,
            "model": self.model,
            "seconds": round(self.seconds, 3),
            "files_per_second": round(self.files_per_second, 2),
            "skipped": [i.to_dict() for i in self.issues if i.status == "skipped"],
            "capped": [i.to_dict() for i in self.issues if i.status == "capped"],
        }
