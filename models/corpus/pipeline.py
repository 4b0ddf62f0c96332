"""One source piece -> its clips on disk and their metadata records (runs inside a worker process).

Each clip is written as it is (the source instrumentation), and some also as a re-orchestrated and
possibly transposed version, or with an MMA groove underneath (folk melodies).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bridge.analysis import analyze_piece
from bridge.music import MidiFileError, Piece, load_midi, save_midi
from models.corpus.accompaniment import MmaError, bar_chords, groove_options, render_groove
from models.corpus.clips import ClipSpec, plan_clips
from models.corpus.config import BuildConfig
from models.corpus.ingest import SourcePiece
from models.corpus.keys import COMMON_MODES, MODE_OFFSET, Key, pc_in_key
from models.corpus.labels import ClipContext, chord_summary, clip_record, friendly_name
from models.corpus.sources import collection_by_name, essen_origin
from models.corpus.variety import (
    CHORAL_ENSEMBLES,
    CLASSICAL_ENSEMBLES,
    FOLK_SOLOISTS,
    TRANSPOSITIONS,
    Ensemble,
    orchestrate,
    pick,
    transpose,
    unit,
    with_program,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PieceResult:
    piece_id: str
    collection: str
    records: tuple[dict, ...]
    reports: tuple[dict, ...]


def process_piece(sp: SourcePiece, cfg: BuildConfig) -> PieceResult:
    """Never raises for bad music: every problem becomes a one-line report."""
    try:
        return _process(sp, cfg)
    except MidiFileError as e:
        return PieceResult(sp.piece_id, sp.collection, (), ({"source": sp.source_file, "reason": str(e)},))
    except Exception as e:  # one odd piece must not end a build of thousands
        log.exception("failed on %s", sp.piece_id)
        reason = f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
        return PieceResult(sp.piece_id, sp.collection, (), ({"source": sp.source_file, "reason": reason},))


# Humdrum key designations of polyphony are editorial labels of the church mode: believe them all.
_BELIEVED_MODES = {"chorale": (*COMMON_MODES, "phrygian"), "polyphony": tuple(MODE_OFFSET)}


def _genre(sp: SourcePiece) -> str:
    """Genre words from the current source table (cached pieces keep the words they were parsed with)."""
    if sp.collection == "essen":
        return f"{essen_origin(Path(sp.source_file.split('#')[0]).name)} folk song"
    try:
        return collection_by_name(sp.collection).genre
    except KeyError:
        return sp.genre


def _base_lead(sp: SourcePiece, piece: Piece) -> str:
    if sp.category == "folk":
        return "fiddle" if sp.default_program == 40 else friendly_name(sp.default_program)
    programs = sorted({int(p) for p in piece.notes.program})
    if programs == [52]:
        return "choir"
    if set(programs) <= {40, 41, 42, 43} and len(set(piece.notes.track.tolist())) == 4:
        return "string quartet"
    counts = np.bincount(piece.notes.program.astype(np.int64), minlength=128)
    return friendly_name(int(np.argmax(counts)))


def _ensembles_for(sp: SourcePiece) -> tuple[Ensemble, ...]:
    if sp.category == "folk":
        return tuple(e for e in FOLK_SOLOISTS if e.programs[0] != sp.default_program)
    if sp.category in ("chorale", "polyphony"):
        return tuple(e for e in CHORAL_ENSEMBLES if e.name != "choir")
    return CLASSICAL_ENSEMBLES


def transpose_symbol(symbol: str, semitones: int, key: Key | None) -> str:
    m = re.match(r"^([A-G][#b]?)(.*)$", symbol)
    if not m or semitones == 0:
        return symbol
    from bridge.analysis.names import parse_pc

    root = (parse_pc(m.group(1)) + semitones) % 12
    return pc_in_key(root, key) + m.group(2)


def _process(sp: SourcePiece, cfg: BuildConfig) -> PieceResult:
    out = Path(cfg.out)
    piece = load_midi(sp.midi)
    if sp.category == "folk":
        piece = with_program(piece, sp.default_program)
    key = Key(sp.tonic_pc, sp.mode) if sp.key is not None and sp.tonic_pc is not None and sp.mode else None
    if key is not None and key.mode not in _BELIEVED_MODES.get(sp.category, COMMON_MODES):
        key = Key(key.major_pc, "major")  # e.g. an open ending on the leading note is not "locrian"
    sp = replace(sp, genre=_genre(sp))
    specs = plan_clips(piece, cfg.max_clips(sp.collection), cfg.whole_max_bars, seed=f"{cfg.seed}|{sp.piece_id}")
    if not specs:
        return PieceResult(sp.piece_id, sp.collection, (),
                           ({"source": sp.source_file, "reason": "no 4-16 bar window with enough notes"},))
    folder = out / "clips" / sp.collection
    folder.mkdir(parents=True, exist_ok=True)
    stem = sp.piece_id.split("/", 1)[-1]
    lead = _base_lead(sp, piece)
    meter = str(piece.time_signatures[0])
    derived = bar_chords(piece, key) if sp.category == "folk" and key is not None else None
    reports: list[dict] = []

    groove_piece, groove_words, groove_lead = None, None, None
    options = groove_options(meter)
    if (derived and options and len(piece.time_signatures) == 1
            and unit(cfg.seed, sp.piece_id, "mma") < cfg.mma_fraction):
        groove = pick(options, cfg.seed, sp.piece_id, "groove")
        soloist = pick(FOLK_SOLOISTS, cfg.seed, sp.piece_id, "mma-lead")
        try:
            groove_piece = render_groove(with_program(piece, soloist.programs[0]), derived, groove)
            groove_words, groove_lead = groove.words, soloist.name
        except MmaError as e:
            reports.append({"source": sp.source_file, "reason": f"no groove version: {e}"})

    base_ctx = ClipContext(
        piece_id=sp.piece_id, collection=sp.collection, category=sp.category, title=sp.title, source=sp.source,
        source_file=sp.source_file, licence=sp.licence, genre=sp.genre, dance=sp.dance, key=key,
        key_source=sp.key_source, lead=lead, transposed=0, orchestrated=False, groove=None, chords=(),
        chord_source="analysis", bars=0,
    )
    records: list[dict] = []
    for spec in specs:
        clip = piece.window(spec.start, spec.stop)
        bar_syms = derived[spec.start_bar : spec.stop_bar] if derived else []
        ctx = replace(base_ctx, bars=spec.stop_bar - spec.start_bar, chords=chord_summary(bar_syms),
                      chord_source="derived_diatonic" if bar_syms else "analysis")
        records.append(_emit(folder, stem, spec, "", clip, ctx, cfg))

        if unit(cfg.seed, sp.piece_id, spec.name, "orch") < cfg.orchestrate_fraction:
            ensemble = pick(_ensembles_for(sp), cfg.seed, sp.piece_id, spec.name, "ensemble")
            variant = orchestrate(clip, ensemble)
            scale = pick((0.65, 1.0, 1.0, 1.25), cfg.seed, sp.piece_id, spec.name, "dyn")
            v = variant.notes
            variant = variant.with_notes(v.with_(velocity=np.clip(v.velocity * scale, 1, 127).astype(np.int16)))
            semis = 0
            if unit(cfg.seed, sp.piece_id, spec.name, "transpose") < cfg.transpose_fraction:
                variant, semis = transpose(variant, pick(TRANSPOSITIONS, cfg.seed, sp.piece_id, spec.name, "by"))
            vkey = key.transposed(semis) if key is not None else None
            vctx = replace(ctx, key=vkey, lead=ensemble.name, orchestrated=True, transposed=semis,
                           chords=tuple(transpose_symbol(c, semis, vkey) for c in ctx.chords))
            suffix = f"-{re.sub(r'[^a-z0-9]+', '', ensemble.name)}" + (f"-t{semis:+d}" if semis else "")
            records.append(_emit(folder, stem, spec, suffix, variant, vctx, cfg))

        if groove_piece is not None:
            gclip = groove_piece.window(spec.start, spec.stop)
            gctx = replace(ctx, lead=groove_lead, orchestrated=True, groove=groove_words,
                           chord_source="mma_derived_diatonic" if bar_syms else "analysis")
            suffix = f"-mma-{re.sub(r'[^a-z0-9]+', '', groove_words)}"
            records.append(_emit(folder, stem, spec, suffix, gclip, gctx, cfg))
    return PieceResult(sp.piece_id, sp.collection, tuple(records), tuple(reports))


def _emit(folder: Path, stem: str, spec: ClipSpec, suffix: str, clip: Piece, ctx: ClipContext,
          cfg: BuildConfig) -> dict:
    name = f"{stem}__{spec.name}{suffix}.mid"
    path = folder / name
    save_midi(clip, path)
    analysis = analyze_piece(clip)
    location = f"clips/{ctx.collection}/{name}"
    return clip_record(location, ctx, clip, analysis, cfg.seed, cfg.split_fractions, cfg.captions_per_clip)
