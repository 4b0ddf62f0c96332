"""Turning one MIDI file into index records. Runs in worker processes, so it takes and returns plain data."""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import time
from dataclasses import dataclass, field

import numpy as np

from bridge.analysis import analyze_piece
from bridge.analysis.key import pitch_class_histogram
from bridge.library.hashing import bytes_hash
from bridge.library.windows import Span, window_keys, window_spans
from bridge.music import MidiFileError, Piece
from bridge.music.midi_file import DEFAULT_LIMITS, load_midi_bytes

log = logging.getLogger(__name__)

DRUM_PROGRAM = 128  # drums get their own "program" so one bitmask covers every instrument
NO_KEY = "none"  # key and mode of a window without pitched notes

# Test hooks: seconds to sleep per analysed file (so a test can kill an index run mid-way), a file name on
# which a worker process dies as if the parser had crashed, and one on which reading raises an unexpected error.
ENV_SLOW = "MIDIBRIDGE_INDEX_TEST_DELAY"
ENV_CRASH = "MIDIBRIDGE_INDEX_TEST_CRASH_ON"
ENV_RAISE = "MIDIBRIDGE_INDEX_TEST_RAISE_ON"


@dataclass(frozen=True)
class WindowRecord:
    start_bar: int  # 0-based, like Span
    end_bar: int  # exclusive
    start_q: float
    stop_q: float
    start_s: float
    end_s: float
    tonic_pc: int
    mode: str
    key: str
    key_confidence: float
    tempo: float
    tempo_word: str
    meter: str
    programs: tuple[int, ...]  # GM programs sounding in the window, DRUM_PROGRAM for drums
    n_notes: int
    register: str
    dynamics: str
    texture: str
    pc_hist: tuple[float, ...]  # 12 values summing to 1 (duration-weighted), for feature-only "like" search


@dataclass(frozen=True)
class FileResult:
    path: str
    size: int
    mtime_ns: int
    hash: str | None
    reason: str | None = None  # set when the file is skipped
    warnings: tuple[str, ...] = ()  # set when the file was capped but indexed
    info: dict = field(default_factory=dict)  # whole-file analysis, JSON-ready
    windows: tuple[WindowRecord, ...] = ()
    pieces: tuple[Piece, ...] | None = None  # window pieces, only when asked for (embedding)
    token_ids: tuple[np.ndarray, ...] | None = None  # ...or what the MIDI tower reads of them (`TokenSpec`)

    @property
    def ok(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class TokenSpec:
    """How the MIDI tower reads a window (bridge.tokens.MidiWindow), as plain data a worker process can get:
    with it, workers return each window's token ids instead of the window itself, so tokenising runs on the
    analysis workers in parallel and the process running the tower only runs the tower."""

    tokenizer: str  # path of the model's midi_tokenizer.json
    max_len: int
    header: bool = False


_MIDI_WINDOWS: dict[TokenSpec, object] = {}  # per process: the tokenizer is loaded once


def window_token_ids(spec: TokenSpec, pieces) -> tuple[np.ndarray, ...]:
    window = _MIDI_WINDOWS.get(spec)
    if window is None:
        from bridge.tokens import MidiWindow, load_tokenizer

        window = _MIDI_WINDOWS[spec] = MidiWindow(load_tokenizer(spec.tokenizer), spec.max_len, spec.header)
    return tuple(np.asarray(window.of_piece(p)) for p in pieces)


def analyse_file(path: str, want_pieces: bool = False, tokens: TokenSpec | None = None) -> FileResult:
    """Read, parse and analyse `path`. Never raises: every failure becomes `reason`. With `tokens` (and
    `want_pieces`), the windows come back as the MIDI tower's token ids (or as pieces if tokenising fails)."""
    try:
        result = _analyse_file(path, want_pieces)
    except Exception as e:  # a parser or analysis bug on one hostile file must only skip that file
        log.exception("reading %s failed", path)
        try:
            st = os.stat(path)
            size, mtime = st.st_size, st.st_mtime_ns
        except OSError:
            size, mtime = 0, 0
        return FileResult(path, size, mtime, None, reason=f"cannot read it: {_one_line(e)}")
    if tokens is not None and result.pieces:
        try:
            ids = window_token_ids(tokens, result.pieces)
        except Exception as e:  # the process running the tower tokenises the pieces instead
            log.warning("cannot tokenise %s in the worker: %s", path, _one_line(e))
            return result
        return dataclasses.replace(result, pieces=None, token_ids=ids)
    return result


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:200]}" if text else type(e).__name__


def _read_no_follow(path: str) -> bytes:
    """The file's bytes; a symlink swapped in after the walk (that checked where links lead) is refused."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _analyse_file(path: str, want_pieces: bool) -> FileResult:
    delay = float(os.environ.get(ENV_SLOW, "0") or 0)
    if delay:
        time.sleep(delay)
    crash_on = os.environ.get(ENV_CRASH)
    if crash_on and os.path.basename(path) == crash_on and multiprocessing.parent_process() is not None:
        os._exit(70)  # only ever in a worker process
    try:
        st = os.stat(path)
    except OSError as e:
        return FileResult(path, 0, 0, None, reason=f"cannot read file: {e.strerror or e}")
    if st.st_size > DEFAULT_LIMITS.max_bytes:
        return FileResult(path, st.st_size, st.st_mtime_ns, None, reason=f"file too large ({st.st_size / 1e6:.1f} MB)")
    try:
        data = _read_no_follow(path)
    except OSError as e:
        return FileResult(path, st.st_size, st.st_mtime_ns, None, reason=f"cannot read file: {e.strerror or e}")
    digest = bytes_hash(data)
    try:
        if os.environ.get(ENV_RAISE) and os.path.basename(path) == os.environ[ENV_RAISE]:
            raise OverflowError("test hook: an unexpected error while reading")
        piece = load_midi_bytes(data)
    except MidiFileError as e:
        return FileResult(path, st.st_size, st.st_mtime_ns, digest, reason=str(e))
    except Exception as e:  # an unexpected parser error is still only this file's problem
        log.exception("parsing %s failed", path)
        return FileResult(path, st.st_size, st.st_mtime_ns, digest, reason=f"cannot parse it: {_one_line(e)}")
    try:
        info, windows, pieces = analyse_piece(piece, want_pieces)
    except Exception as e:  # analysis bugs on odd input must not stop a run; the reason is reported
        log.exception("analysis failed for %s", path)
        return FileResult(path, st.st_size, st.st_mtime_ns, digest, reason=f"analysis failed: {type(e).__name__}: {e}")
    if not windows:
        return FileResult(path, st.st_size, st.st_mtime_ns, digest, reason="no pitched or drum notes to index")
    return FileResult(
        path,
        st.st_size,
        st.st_mtime_ns,
        digest,
        warnings=tuple(piece.warnings),
        info=info,
        windows=tuple(windows),
        pieces=tuple(pieces) if want_pieces else None,
    )


def analyse_piece(piece: Piece, want_pieces: bool = False) -> tuple[dict, list[WindowRecord], list[Piece]]:
    """Whole-piece analysis plus one record per window (and the window pieces if wanted)."""
    analysis = analyze_piece(piece)
    info = analysis.to_dict()
    records: list[WindowRecord] = []
    pieces: list[Piece] = []
    spans = window_spans(piece)
    # Each window carries the key of the section it lies in (a rag's trio in the trio's key), heard over many
    # bars rather than guessed from the window's own eight.
    for span, key in zip(spans, window_keys(piece, spans, analysis.key_sections)):
        window = piece.window(span.start_q, span.stop_q)
        if len(window.notes) == 0:
            continue  # silent stretch (long rests): nothing to find there
        records.append(window_record(piece, span, window, key))
        if want_pieces:
            pieces.append(window)
    return info, records, pieces


def window_record(piece: Piece, span: Span, window: Piece, key=None) -> WindowRecord:
    """One window's searchable facts; `key` (its section's, from `window_keys`) or else its own estimate."""
    a = analyze_piece(window, with_chords=False)
    key = key or a.key
    notes = window.notes
    programs = np.unique(np.where(notes.is_drum, DRUM_PROGRAM, notes.program.astype(np.int64)))
    hist = pitch_class_histogram(notes)
    total = hist.sum()
    hist = hist / total if total > 0 else hist
    start_s, end_s = piece.seconds_at(np.array([span.start_q, span.stop_q]))
    # Drums alone have no key: mark it so that no key or mode constraint can match (not "C major", conf 0).
    keyless = not (~notes.is_drum).any()
    return WindowRecord(
        start_bar=span.start_bar,
        end_bar=span.end_bar,
        start_q=span.start_q,
        stop_q=span.stop_q,
        start_s=float(start_s),
        end_s=float(end_s),
        tonic_pc=-1 if keyless else key.tonic_pc,
        mode=NO_KEY if keyless else key.mode,
        key=NO_KEY if keyless else key.name,
        key_confidence=float(key.confidence),
        tempo=float(a.tempo_bpm),
        tempo_word=a.tempo_word,
        meter=a.time_signature,
        programs=tuple(int(p) for p in programs),
        n_notes=len(notes),
        register=a.register,
        dynamics=a.dynamics,
        texture=a.texture,
        pc_hist=tuple(round(float(x), 5) for x in hist),
    )


def load_window_pieces(path: str, spans: list[tuple[float, float]]) -> tuple[str, list[Piece] | None, str | None]:
    """Reload a file's windows for embedding an already indexed file (model added or changed)."""
    try:
        piece = load_midi_bytes(_read_no_follow(path))
        return path, [piece.window(a, b) for a, b in spans], None
    except (OSError, MidiFileError) as e:
        return path, None, str(e)
    except Exception as e:  # one odd file must not stop embedding the rest
        return path, None, _one_line(e)
