"""The build configuration: one frozen record, saved into manifest.json so a corpus says how it was made."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from models.corpus.sources import COLLECTIONS

# Clips kept per piece: long polyphonic works give more, short folk tunes fewer.
DEFAULT_MAX_CLIPS = (
    ("essen", 3), ("oneill", 4), ("ryan", 4), ("aird", 4), ("miscfolk", 4), ("nottingham", 4),
    ("chorales", 5), ("palestrina", 4), ("monteverdi", 16), ("renaissance", 12), ("trecento", 10),
    ("classical", 40),
)


@dataclass(frozen=True)
class BuildConfig:
    out: str
    cache_dir: str = ""  # default: <out>/cache
    collections: tuple[str, ...] = tuple(c.name for c in COLLECTIONS)
    limit_per_collection: int = 0  # pieces per collection; 0 = all
    workers: int = 2
    max_clips_per_piece: tuple[tuple[str, int], ...] = DEFAULT_MAX_CLIPS
    essen_max_share: float = 0.35  # of all clips, so the biggest collection does not dominate
    orchestrate_fraction: float = 0.6  # clips that get an extra re-orchestrated (maybe transposed) version
    transpose_fraction: float = 0.6  # of those, how many are also transposed
    mma_fraction: float = 0.35  # folk pieces that also get an MMA groove version
    captions_per_clip: int = 3
    split_fractions: tuple[float, float, float] = (0.90, 0.05, 0.05)
    seed: str = "midibridge-corpus-v1"
    whole_max_bars: int = 16  # pieces this short become one "whole" clip
    # Skip score files whose parse would be too slow (bytes, compressed .mxl counted x8): music21 takes
    # minutes on a 1 MB trecento Gloria or a Beethoven quartet, for a handful of clips.
    max_score_cost: int = 400_000
    extra: dict = field(default_factory=dict)

    def max_clips(self, collection: str) -> int:
        return dict(self.max_clips_per_piece).get(collection, 4)

    def to_dict(self) -> dict:
        return asdict(self)
