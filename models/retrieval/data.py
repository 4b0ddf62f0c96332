"""Corpus access for retrieval (CONTRACTS.md format), torch-free so ONNX evaluation can share it.

Every clip is tokenised once with the shared REMI tokenizer and the ids are cached in one .npz per
tokenizer config; training then crops windows from the cache instead of parsing MIDI.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bridge.music import MidiFileError, load_midi
from bridge.tokens import NO_KEY, key_class, tokenize_piece

log = logging.getLogger(__name__)

CACHE_DIR = ".retrieval_cache"  # inside the corpus dir (gitignored with it)


@dataclass(frozen=True)
class Clip:
    location: str
    split: str
    piece_id: str
    collection: str
    captions: tuple[tuple[str, str], ...]  # (text, phrasing family)
    record: dict = field(compare=False, hash=False)  # the whole captions.jsonl line, for the feature baseline


def read_manifest(data_dir: Path) -> dict:
    path = Path(data_dir) / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def held_out_family(data_dir: Path, clips: list[Clip] | None = None) -> str | None:
    """The phrasing family kept out of training, from the manifest; else the family found only in test."""
    manifest = read_manifest(data_dir)
    for key in ("held_out_family", "heldout_family", "held_out_phrasing_family", "held_out_phrasing"):
        value = manifest.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and isinstance(value.get("family", value.get("name")), str):
            return value.get("family", value.get("name"))
    for value in manifest.values():  # a nested "captions": {"held_out_family": ...} block
        if isinstance(value, dict):
            for k, v in value.items():
                if "held" in k and isinstance(v, str):
                    return v
    if clips:
        seen = {s: {f for c in clips if c.split == s for _, f in c.captions} for s in ("train", "test")}
        only_test = sorted(seen["test"] - seen["train"])
        if len(only_test) == 1:
            return only_test[0]
    return None


def caption_entries(record: dict) -> tuple[tuple[str, str], ...]:
    """All (caption, family) pairs of a record.

    `captions` holds strings with a parallel `caption_families` list (models.corpus), or {"text", "family"}
    objects; without either, every caption takes the record's `phrasing_family`.
    """
    default_family = str(record.get("phrasing_family", "plain"))
    families = record.get("caption_families") or []
    out: list[tuple[str, str]] = []
    for i, item in enumerate(record.get("captions") or []):
        if isinstance(item, str):
            out.append((item, str(families[i]) if i < len(families) else default_family))
        elif isinstance(item, dict):
            text = item.get("text") or item.get("caption")
            family = item.get("phrasing_family") or item.get("family") or default_family
            if text:
                out.append((str(text), str(family)))
    main = record.get("caption")
    if main and all(main != t for t, _ in out):
        out.insert(0, (str(main), default_family))
    return tuple(out)


def read_clips(data_dir: str | os.PathLike, splits: tuple[str, ...] | None = None) -> list[Clip]:
    path = Path(data_dir) / "captions.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"no captions.jsonl in {data_dir}: not a midibridge corpus")
    clips = []
    with path.open() as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError:  # a corpus still being written can end mid-line
                continue
            if splits is not None and r.get("split") not in splits:
                continue
            clips.append(
                Clip(
                    location=r["location"],
                    split=r.get("split", "train"),
                    piece_id=r.get("piece_id", r["location"]),
                    collection=r.get("collection", ""),
                    captions=caption_entries(r),
                    record=r,
                )
            )
    return clips


def tokenizer_fingerprint(tokenizer) -> str:
    """Same settings -> same hash, whether the tokenizer was built fresh or reloaded from its JSON."""
    params = json.dumps(_plain(tokenizer.config.to_dict()), sort_keys=True, default=str)
    vocab = json.dumps(tokenizer.vocab, sort_keys=True)
    return hashlib.sha1((params + vocab).encode()).hexdigest()[:10]


def _plain(obj):
    # JSON round trips turn tuples into lists and tuple keys (beat_res) need a string form.
    if isinstance(obj, dict):
        return {str(_plain(k)): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


class TokenCache:
    """location -> REMI ids of the whole clip and its analysed key class (bridge.tokens.key_class); one .npz per
    tokenizer config, extended incrementally."""

    VERSION = "k1"  # bump when what is cached changes, so an older cache is rebuilt rather than misread

    def __init__(self, data_dir: str | os.PathLike, tokenizer, cache_dir: str | os.PathLike | None = None):
        self.data_dir = Path(data_dir)
        self.tokenizer = tokenizer
        root = Path(cache_dir) if cache_dir else self.data_dir / CACHE_DIR
        self.path = root / f"tokens_{tokenizer_fingerprint(tokenizer)}_{self.VERSION}.npz"
        self.ids: dict[str, np.ndarray] = {}
        self.keys: dict[str, int] = {}
        self.failed: dict[str, str] = {}
        if self.path.is_file():
            z = np.load(self.path, allow_pickle=False)
            flat, offsets, locations, keys = z["flat"], z["offsets"], z["locations"], z["keys"]
            for i, loc in enumerate(locations):
                self.ids[str(loc)] = flat[offsets[i] : offsets[i + 1]]
                self.keys[str(loc)] = int(keys[i])

    def ensure(self, locations: list[str], progress: Callable[[int, int], None] | None = None,
               save_every: int = 2000) -> None:
        missing = [loc for loc in dict.fromkeys(locations) if loc not in self.ids and loc not in self.failed]
        if not missing:
            return
        log.info("tokenising %d clips into %s", len(missing), self.path)
        for n, loc in enumerate(missing, 1):
            try:
                piece = load_midi(self.data_dir / loc)
                self.ids[loc] = tokenize_piece(piece, self.tokenizer)
                self.keys[loc] = key_class(piece)
            except (MidiFileError, OSError, RuntimeError, ValueError) as e:
                self.failed[loc] = str(e)
                log.warning("skipping %s: %s", loc, e)
            if progress:
                progress(n, len(missing))
            if n % save_every == 0:
                self.save()
        self.save()

    def save(self) -> None:
        locations = list(self.ids)
        lengths = np.array([len(self.ids[loc]) for loc in locations], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        flat = np.concatenate([self.ids[loc] for loc in locations]) if locations else np.zeros(0, np.int32)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.stem + ".tmp.npz")
        keys = np.array([self.keys.get(loc, NO_KEY) for loc in locations], dtype=np.int8)
        np.savez(tmp, flat=flat.astype(np.int32), offsets=offsets, locations=np.asarray(locations), keys=keys)
        os.replace(tmp, self.path)

    def get(self, location: str) -> np.ndarray | None:
        ids = self.ids.get(location)
        return ids if ids is not None and len(ids) else None

    def key(self, location: str) -> int:
        return self.keys.get(location, NO_KEY)


def usable(clips: list[Clip], cache: TokenCache) -> list[Clip]:
    """Clips that tokenised to something and have at least one caption."""
    return [c for c in clips if c.captions and cache.get(c.location) is not None]


def valid_subset(clips: list[Clip], size: int, seed: int = 0) -> list[Clip]:
    """A fixed subset (same every run) of one clip per piece first, so near-duplicate clips rarely compete."""
    rng = np.random.default_rng(seed)
    by_piece: dict[str, list[Clip]] = {}
    for c in sorted(clips, key=lambda c: c.location):
        by_piece.setdefault(c.piece_id, []).append(c)
    firsts = [v[int(rng.integers(len(v)))] for v in by_piece.values()]
    rng.shuffle(firsts)
    chosen = {c.location for c in firsts}
    rest = [c for c in sorted(clips, key=lambda c: c.location) if c.location not in chosen]
    rng.shuffle(rest)
    return (firsts + rest)[:size]
