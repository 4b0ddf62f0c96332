"""What runs in the search worker: the library, its model, and every file read.

The daemon runs these functions in a separate process (spawned, one worker), so a search's Python work
never holds the GIL the JACK callback needs; each function is a plain top-level function so it pickles.
The library lives in `_STATE` of the worker process: one per process, set by `open_library`.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.music import Piece, load_midi

log = logging.getLogger(__name__)

_STATE: dict[str, Any] = {}
_LOCAL = threading.local()  # .emit: where `progress` sends (set per request by serve_functions / ThreadWorker)

MAX_PLAY_FILE_BYTES = 16 * 1024 * 1024  # a MIDI file larger than this is refused before it is parsed


class ClipTooLarge(ValueError):
    """A clip beyond what one play request may schedule (the message says the limit)."""


@dataclass(frozen=True)
class LibrarySpec:
    """How the worker opens the library (picklable)."""

    db: Path | None = None
    model: bool = True
    model_dir: Path | None = None
    index_bundled: bool = True


def init_worker(log_level: str = "INFO", json_log: bool = False, process: bool = True) -> None:
    """Searches are bulk work: never real-time priority, even when the daemon runs SCHED_FIFO. Ctrl-C in a
    terminal reaches the whole process group; only the daemon decides when its worker stops. A spawned
    worker logs like the daemon, each repeated warning once."""
    if process:
        from bridge.daemon import logs

        logs.configure(log_level, json_log, once=True)
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: a thread worker
        pass
    try:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except (AttributeError, OSError):
        pass


def load_encoder(model_dir: Path | None) -> Any:
    from bridge.inference.retrieval import TEXT_CONFIG, default_model_dir

    model_dir = model_dir or default_model_dir()
    if not (model_dir / TEXT_CONFIG).is_file():
        log.warning("no retrieval model at %s: search ranks by musical features", model_dir)
        return None
    from bridge.inference import RetrievalEncoders

    try:
        return RetrievalEncoders.load(model_dir)
    except Exception as e:  # a broken model must not take search down; features still work
        log.warning("cannot load the retrieval model at %s (%s): ranking by features", model_dir, e)
        return None


def open_library(spec: LibrarySpec) -> dict:
    """Open the library (and model) in this process; returns what status shows."""
    from bridge import paths
    from bridge.library import Library

    encoder = load_encoder(spec.model_dir) if spec.model else None
    library = Library.open(spec.db or paths.default_db_path(), encoder=encoder)
    if spec.index_bundled:
        library.ensure_indexed()  # zero configuration: a never-indexed library gets the bundled clips
    if encoder is not None:
        warm_up(encoder)
    try:  # the melody index of query by playing: built (or loaded from its cache) now, not in the first search
        library.melody_index(library.snapshot())
    except Exception as e:
        log.warning("melody index not built: %s", e)
    _STATE["library"] = library
    return info(roots=True)


def warm_up(encoder: Any) -> None:
    """onnxruntime allocates on its first runs: pay that before the library says ready, not in a user's search."""
    from bridge.music import NoteList

    try:
        encoder.encode_text(["warm up"])
        encoder.encode_pieces([Piece(notes=NoteList.from_tuples([(0, 1, 60), (1, 1, 64), (2, 1, 67)]))])
    except Exception as e:  # a model that cannot encode will say so again on the first search
        log.warning("model warm-up failed: %s", e)


def info(roots: bool = False) -> dict:
    library = _STATE["library"]
    out = {"windows": len(library.snapshot()),
           "models": [str(library.encoder.name)] if library.encoder is not None else ["features"],
           "search": library.search_mode()}  # "exact" or "approximate (faiss, N unique vectors)"
    if roots:
        out["roots"] = [str(r) for r in library.stats().get("roots", [])]
    return out


def search(query: Any) -> tuple[list[Any], int, str]:
    library = _STATE["library"]
    hits = library.search(query)
    snap = library.snapshot()
    return hits, len(snap), library.search_mode(snap)  # the mode too: a background build may have finished


def load_hit_piece(hit: Any) -> Piece:
    return _STATE["library"].load_hit_piece(hit)


def load_file(path: str) -> Piece:
    return load_midi(path)


def set_progress(emit: Callable[[Any], None] | None) -> None:
    _LOCAL.emit = emit


def progress(payload: Any) -> None:
    """Send progress of the request being served to the daemon (nothing when nobody listens)."""
    emit = getattr(_LOCAL, "emit", None)
    if emit is not None:
        emit(payload)


def pack_events(piece: Piece, max_notes: int) -> tuple[bytes, bytes, bytes, bytes, int]:
    """A piece's events, compact for the pipe: (beats float64, orders uint8, message lengths uint8,
    concatenated messages, notes). Unpickling this costs the daemon a copy, not one object per event;
    the refusal of a clip beyond `max_notes` happens here, before any event exists."""
    import numpy as np

    from bridge.midi.events import piece_events

    notes = len(piece.notes)
    if notes > max_notes:
        raise ClipTooLarge(f"clip too long: {notes} notes, one play request schedules at most {max_notes} "
                           "(play a hit of it, or a shorter file)")
    events = piece_events(piece)
    beats = np.fromiter((e.beat for e in events), dtype=np.float64, count=len(events))
    orders = bytes(e.order for e in events)
    lengths = bytes(len(e.data) for e in events)
    data = b"".join(e.data for e in events)
    return beats.tobytes(), orders, lengths, data, sum(1 for e in events if e.order == 1)


def file_events(path: str, max_notes: int) -> tuple[bytes, bytes, bytes, bytes, int]:
    size = os.path.getsize(path)
    if size > MAX_PLAY_FILE_BYTES:
        raise ClipTooLarge(f"file too large to play: {size / 1e6:.1f} MB (at most {MAX_PLAY_FILE_BYTES // 2**20} MiB)")
    return pack_events(load_midi(path), max_notes)


def hit_events(hit: Any, max_notes: int) -> tuple[bytes, bytes, bytes, bytes, int]:
    return pack_events(_STATE["library"].load_hit_piece(hit), max_notes)


def index_library(spec: LibrarySpec) -> dict:
    """Re-index every folder of the library (`/midibridge/library/index`), reporting progress; run in a
    worker of its own so searches go on. The search worker's library sees the result by its generation."""
    from bridge import paths
    from bridge.library import Library

    encoder = load_encoder(spec.model_dir) if spec.model else None
    last = [0.0, ""]

    def report(stage: str, done: int, total: int) -> None:
        import time

        now = time.monotonic()
        if stage != last[1] or done == total or now - last[0] >= 0.25:  # at most ~4 a second
            last[0], last[1] = now, stage
            progress((stage, int(done), int(total)))

    library = Library.open(spec.db or paths.default_db_path(), encoder=encoder)
    try:
        progress(("walk", 0, 0))
        result = library.index(None, progress=report)
    finally:
        library.close()
    out = result.to_dict()
    return {k: out.get(k) for k in ("roots", "files_seen", "added", "updated", "renamed", "removed", "unchanged",
                                    "skipped_new", "windows", "embedded", "seconds")} | {
        "issues": len(out.get("issues") or ())}


def close() -> None:
    library = _STATE.pop("library", None)
    if library is not None:
        library.close()


FUNCTIONS = {
    "open_library": open_library,
    "info": info,
    "search": search,
    "load_hit_piece": load_hit_piece,
    "load_file": load_file,
    "file_events": file_events,
    "hit_events": hit_events,
    "index_library": index_library,
}


def serve(conn, log_level: str = "INFO", json_log: bool = False) -> None:
    """The search worker process's main loop (see `serve_functions`)."""
    init_worker(log_level, json_log, process=True)
    serve_functions(conn, FUNCTIONS)
    close()


def serve_functions(conn, functions: dict) -> None:
    """One request at a time from the daemon's end of a pipe, answered from `functions`.

    A request is (request number, function name, args); the answer is (request number, ok, result or
    (exception type name, message)). The daemon sends the next request only after this answer, so the
    pipe never fills and the daemon's event loop never blocks writing to it.
    """
    while True:
        try:
            number, name, args = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            break  # the daemon went away (or is going: its pipe closes)
        set_progress(lambda payload, n=number: conn.send((n, None, payload)))
        try:
            result = (number, True, functions[name](*args))
        except (BrokenPipeError, EOFError, ConnectionResetError):
            break  # the daemon closed the pipe while this ran (progress could not be sent)
        except Exception as e:  # every failure goes back to the daemon as a reason, the worker lives on
            result = (number, False, (type(e).__name__, str(e)))
        finally:
            set_progress(None)
        try:
            conn.send(result)
        except (BrokenPipeError, EOFError, ConnectionResetError, OSError):
            break  # the daemon is gone: nobody to answer, nothing to print
        except Exception as e:  # an unpicklable result: say so instead of dying
            try:
                conn.send((number, False, (type(e).__name__, f"cannot return the result: {e}")))
            except OSError:
                break
