"""Parse each source file once into pieces (MIDI + label JSON) and cache them by path, size and mtime.

A rebuild then only re-reads the cache: music21 parses are the slow part of the whole build.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from bridge.music import MidiFileError, Piece, TempoChange, load_midi, save_midi
from models.corpus.keys import COMMON_MODES, Key, key_from_signature_and_final, sharps_to_major_pc
from models.corpus.sources import Collection, essen_origin

log = logging.getLogger(__name__)

# Bump when parsing changes, so stale cache entries are ignored.
INGEST_VERSION = 3


@dataclass(frozen=True)
class SourcePiece:
    """One work from a source file: where its MIDI lies and the labels the source itself states."""

    piece_id: str
    collection: str
    category: str
    source_file: str  # relative to the music21 corpus dir
    title: str
    source: str
    licence: str
    genre: str
    midi: str  # path of the cached MIDI file
    dance: str | None = None
    origin: str | None = None
    key: str | None = None  # "D major", "A dorian"; None when the source gives no key
    tonic_pc: int | None = None
    mode: str | None = None
    key_source: str = "analysis"
    default_program: int = 0
    bars: int = 0
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        d = asdict(self)
        d["warnings"] = list(self.warnings)
        return d

    @staticmethod
    def from_dict(d: dict) -> SourcePiece:
        return SourcePiece(**{**d, "warnings": tuple(d.get("warnings", ()))})

    def load(self) -> Piece:
        return load_midi(self.midi)


@dataclass(frozen=True)
class IngestResult:
    pieces: tuple[SourcePiece, ...]
    reports: tuple[dict, ...]  # {"source": ..., "reason": ...}
    cached: bool


def slug(text: str, max_len: int = 48) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:max_len].strip("-") or "untitled"


def cache_key(path: Path) -> str:
    st = path.stat()
    # Humdrum files moved from music21 to models.corpus.kern: only their entries are re-parsed.
    reader = "kern1" if path.suffix == ".krn" else ""
    raw = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{INGEST_VERSION}{reader}"
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


def ingest_file(collection: Collection, path: Path, root: Path, cache_dir: Path) -> IngestResult:
    """Pieces of one source file, from the cache when the file is unchanged since it was parsed."""
    rel = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    folder = cache_dir / collection.name
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{slug(path.stem)}-{cache_key(path)}"
    index = folder / f"{stem}.json"
    if index.exists():
        try:
            data = json.loads(index.read_text())
            pieces = tuple(SourcePiece.from_dict(d) for d in data["pieces"])
            if all(Path(p.midi).exists() for p in pieces):
                return IngestResult(pieces, tuple(data["reports"]), cached=True)
        except (ValueError, KeyError, TypeError) as e:
            log.warning("ignoring broken cache entry %s: %s", index, e)
    if collection.fmt == "abc":
        pieces, reports = _ingest_abc(collection, path, rel, folder, stem)
    else:
        pieces, reports = _ingest_score(collection, path, rel, folder, stem)
    tmp = index.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"pieces": [p.to_dict() for p in pieces], "reports": reports}))
    os.replace(tmp, index)
    return IngestResult(tuple(pieces), tuple(reports), cached=False)


# Quarter-note tempos typical of each dance (a reel in 2/2 at ~100 half notes is 200 quarters).
DANCE_BPM = {
    "reel": 200, "hornpipe": 150, "jig": 174, "slip jig": 174, "strathspey": 128, "highland fling": 140,
    "clog": 140, "air": 76, "waltz": 150, "march": 112, "polka": 150, "slide": 200, "set dance": 120,
    "walkaround": 120, "schottische": 130, "mazurka": 130, "quickstep": 126,
}
METER_BPM = {"6/8": 150, "9/8": 160, "12/8": 170, "2/4": 100, "3/4": 112, "4/4": 104, "2/2": 150, "3/8": 110,
             "3/2": 150, "4/2": 160, "6/4": 140}
SONG_BPM = {"6/8": 120, "2/4": 84, "3/4": 96, "4/4": 84, "3/8": 100, "2/2": 120, "3/2": 140, "4/2": 150}
_DANCE_WORDS = (
    ("slip jig", "slip jig"), ("slipjig", "slip jig"), ("double jig", "jig"), ("single jig", "jig"),
    ("jig", "jig"), ("reel", "reel"), ("hornpipe", "hornpipe"), ("strathspey", "strathspey"),
    ("highland fling", "highland fling"), ("fling", "highland fling"), ("clog", "clog"), ("waltz", "waltz"),
    ("march", "march"), ("quickstep", "quickstep"), ("quick step", "quickstep"), ("polka", "polka"),
    ("slide", "slide"), ("set dance", "set dance"), ("walkaround", "walkaround"), ("schottische", "schottische"),
    ("mazurka", "mazurka"), ("air", "air"), ("lament", "air"),
)


def dance_of(rhythm: str, title: str) -> str | None:
    """The dance named by the `R:` field, or failing that by the title ("Acacia Reel")."""
    for text in (rhythm, title):
        low = f" {text.lower()} "
        for word, dance in _DANCE_WORDS:
            if re.search(rf"\b{word}\b", low):
                return dance
    return None


def _stable_jitter(piece_id: str, spread: float = 0.08) -> float:
    h = int(hashlib.md5(piece_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return 1.0 + spread * (2 * h - 1)


def _ingest_abc(collection: Collection, path: Path, rel: str, folder: Path, stem: str):
    from models.corpus.abc import AbcError, parse_meter, render_tune, split_tunes, tune_key

    text = path.read_bytes().decode("latin-1")
    tunes = split_tunes(text)
    pieces: list[SourcePiece] = []
    reports: list[dict] = []
    if not tunes:
        reports.append({"source": rel, "reason": "no X: tunes in file"})
    seen: set[str] = set()
    for i, tune in enumerate(tunes):
        number = slug(tune.number, 12)
        piece_id = f"{collection.name}/{slug(path.stem, 40)}_{number}"
        if piece_id in seen:
            piece_id = f"{piece_id}-{i}"
        seen.add(piece_id)
        where = f"{rel}#X:{tune.number}"
        try:
            piece = render_tune(tune)
        except AbcError as e:
            reports.append({"source": where, "reason": str(e)})
            continue
        if len(piece.notes) < 4:
            reports.append({"source": where, "reason": f"only {len(piece.notes)} notes"})
            continue
        meter = parse_meter(tune.header("M"))
        meter_str = f"{meter[0]}/{meter[1]}" if meter else str(piece.time_signatures[0])
        dance = None if collection.name == "essen" else dance_of(" ".join(tune.headers.get("R", [])), tune.title)
        if not tune.header("Q"):
            table = SONG_BPM if collection.name == "essen" else METER_BPM
            bpm = DANCE_BPM.get(dance or "", table.get(meter_str, 100)) * _stable_jitter(piece_id)
            piece = replace(piece, tempos=(TempoChange(0.0, round(bpm)),))
        key: Key | None = tune_key(tune, piece)
        origin = essen_origin(path.name) if collection.name == "essen" else None
        genre = f"{origin} folk song" if origin else collection.genre
        midi = folder / f"{stem}-{i}.mid"
        save_midi(piece, midi)
        pieces.append(
            SourcePiece(
                piece_id=piece_id, collection=collection.name, category=collection.category, source_file=where,
                title=tune.title or f"{path.stem} {tune.number}", source=collection.source,
                licence=collection.licence, genre=genre, midi=str(midi), dance=dance, origin=origin,
                key=key.name if key else None, tonic_pc=key.tonic_pc if key else None,
                mode=key.mode if key else None, key_source="abc_header" if key else "analysis",
                default_program=_FOLK_PROGRAM.get(collection.name, 40),
                bars=len(piece.bar_starts()), warnings=piece.warnings,
            )
        )
    return pieces, reports


# What a melody-only collection "is" before re-orchestration: sung songs or fiddle/flute/fife tunes.
_FOLK_PROGRAM = {"essen": 53, "oneill": 40, "ryan": 40, "aird": 73, "miscfolk": 72, "nottingham": 40}
_SCORE_DEFAULT_PROGRAM = {"chorales": 52, "palestrina": 52, "monteverdi": 52, "renaissance": 52, "trecento": 52}


def _ingest_score(collection: Collection, path: Path, rel: str, folder: Path, stem: str):
    from models.corpus.kern import KernUnsupported, read_kern
    from models.corpus.scores import ScoreError, final_bass_pc, load_score

    default_program = _SCORE_DEFAULT_PROGRAM.get(collection.name, 0)
    designation = None
    try:
        try:
            if path.suffix != ".krn":
                raise KernUnsupported("not a kern file")
            piece, designation = read_kern(path)
        except KernUnsupported:
            piece, _names = load_score(path, default_program)
        if len(piece.notes) < 8:
            raise ScoreError(f"only {len(piece.notes)} notes")
        midi = folder / f"{stem}-0.mid"
        save_midi(piece, midi)
        piece = load_midi(midi)  # round-trip so limits apply exactly as for every other MIDI file
    except (ScoreError, MidiFileError) as e:
        return [], [{"source": rel, "reason": str(e)}]
    except Exception as e:  # music21 fails in many ways on odd scores; one bad file must not stop the build
        return [], [{"source": rel, "reason": f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"}]
    key = None
    key_source = "analysis"
    if designation is not None:
        key, key_source = Key(designation.tonic_pc, designation.mode), "humdrum"
    elif collection.category == "chorale" and piece.key_signatures:
        final = final_bass_pc(piece)
        if final is not None:
            key = key_from_signature_and_final(sharps_to_major_pc(piece.key_signatures[0].sharps), final,
                                               (*COMMON_MODES, "phrygian"))
            key_source = "chorale"
    title = path.stem if collection.name != "classical" else f"{path.parent.name} {path.stem}"
    return [
        SourcePiece(
            piece_id=f"{collection.name}/{slug(rel.rsplit('.', 1)[0].split('/', 1)[-1], 60)}",
            collection=collection.name, category=collection.category, source_file=rel, title=title,
            source=collection.source, licence=collection.licence, genre=collection.genre, midi=str(midi),
            key=key.name if key else None, tonic_pc=key.tonic_pc if key else None, mode=key.mode if key else None,
            key_source=key_source, default_program=default_program, bars=len(piece.bar_starts()),
            warnings=piece.warnings,
        )
    ], []


def ingest_midi_file(path: Path, root: Path, cache_dir: Path) -> IngestResult:
    """A user-supplied MIDI file as one piece; broken files are reported, absurd ones capped and reported."""
    rel = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    try:
        piece = load_midi(path)
    except MidiFileError as e:
        return IngestResult((), ({"source": rel, "reason": str(e)},), cached=False)
    reports = tuple({"source": rel, "reason": f"capped: {w}"} for w in piece.warnings)
    sp = SourcePiece(
        piece_id=f"midi/{slug(rel.rsplit('.', 1)[0], 80)}", collection="midi", category="midi", source_file=rel,
        title=path.stem, source="user MIDI files", licence="unknown (user-supplied)", genre="piece",
        midi=str(path), bars=len(piece.bar_starts()), warnings=piece.warnings,
    )
    return IngestResult((sp,), reports, cached=False)
