"""One incremental index run: walk, diff against the index, analyse what changed in worker processes,
embed, and commit in small transactions so that a kill at any moment loses at most one batch."""

from __future__ import annotations

import logging
import multiprocessing
import os
import select
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bridge.library import store
from bridge.library.hashing import content_hash
from bridge.library.ingest import FileResult, TokenSpec, analyse_file, load_window_pieces
from bridge.library.types import Encoder, FileIssue, IndexReport, model_key
from bridge.library.walker import FileStat, Refused, is_under, walk_midi_files

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage "analyse" | "embed", done, total)

BATCH_FILES = 32  # files per transaction: small enough that a kill loses little work
BATCH_SECONDS = 2.0  # ...and never more than this much work uncommitted
EMBED_BATCH = 64  # windows per encoder call
INLINE_BELOW = 6  # fewer files than this: analyse in-process (starting workers costs more)


@dataclass(frozen=True)
class Plan:
    """What an index run has to do, decided from the walk and the index alone (no parsing yet)."""

    analyse: list[str]  # new or changed content
    restat: list[tuple[int, str, FileStat]]  # (file id, new path, stat): renames and touched-but-same files
    remove: list[str]  # gone from disk
    unchanged: int
    seen: int


def plan_run(
    walked: dict[str, FileStat],
    indexed: dict[str, tuple[int, int, int, str]],
    skipped: dict[str, tuple[int, int, str]],
    roots: list[str],
    hasher: Callable[[str], str] = content_hash,
    exists: Callable[[str], bool] = os.path.exists,
    keep: frozenset[str] | set[str] = frozenset(),
) -> Plan:
    """Diff the walk against the index. Unchanged = same path, size and mtime; otherwise the content hash
    decides between touched (same hash), renamed (hash of a vanished file) and really new content.
    `keep`: paths the walk saw but left out on purpose (refused links); their skip records stay."""
    unchanged = 0
    candidates: list[FileStat] = []
    for path, st in walked.items():
        old = indexed.get(path) or skipped.get(path)
        if old is not None and _same_stat(path, st, indexed, skipped):
            unchanged += 1
        else:
            candidates.append(st)
    # A folder that is missing altogether is more likely an unmounted drive than deleted music: its
    # files stay indexed (and searchable by metadata) until the folder is back or removed on purpose.
    present = [r for r in roots if exists(r)]
    absent = [r for r in roots if r not in present]

    def gone(p: str) -> bool:
        return p not in walked and not is_under(p, absent) and (is_under(p, present) or not exists(p))

    vanished = {p: row for p, row in indexed.items() if gone(p)}
    vanished_by_hash: dict[str, list[str]] = {}
    for p, (_fid, _size, _mtime, h) in vanished.items():
        vanished_by_hash.setdefault(h, []).append(p)

    analyse: list[str] = []
    restat: list[tuple[int, str, FileStat]] = []
    for st in candidates:
        try:
            h = hasher(st.path)
        except OSError:
            analyse.append(st.path)  # the worker reports why it cannot be read
            continue
        old = indexed.get(st.path)
        if old is not None and old[3] == h:
            restat.append((old[0], st.path, st))
        elif vanished_by_hash.get(h):
            gone = vanished_by_hash[h].pop()
            restat.append((vanished.pop(gone)[0], st.path, st))
        else:
            analyse.append(st.path)
    stale_skips = [p for p in skipped if gone(p) and p not in keep]
    return Plan(sorted(analyse), restat, sorted(vanished) + stale_skips, unchanged, len(walked))


def _same_stat(path, st, indexed, skipped) -> bool:
    if path in indexed:
        _fid, size, mtime, _h = indexed[path]
    else:
        size, mtime, _reason = skipped[path]
    return size == st.size and mtime == st.mtime_ns


def run_index(
    conn: sqlite3.Connection,
    roots: list[str],
    encoder: Encoder | None = None,
    workers: int = 2,
    progress: Progress | None = None,
) -> IndexReport:
    t0 = time.monotonic()
    report = IndexReport(roots=roots)
    model = model_key(encoder) if encoder is not None else None
    report.model = model
    store.check_integrity(conn)  # a damaged index is reported and left as it is, never written into
    with store.Transaction(conn):
        store.add_roots(conn, roots)
    all_roots = store.roots(conn)  # a link may lead into any indexed folder, not only those of this run
    refused: list[Refused] = []
    walked = walk_midi_files(roots, refused, allowed=all_roots)
    for r in roots:
        if not os.path.isdir(r) and not os.path.isfile(r):
            log.warning("folder %s is missing (unmounted?): its files stay in the index", r)
    skipped_before = store.skipped_states(conn)
    indexed = store.file_states(conn)
    plan = plan_run(walked, indexed, skipped_before, roots, keep={r.path for r in refused})
    # Files outside every indexed folder got in through a symlink (before links out were refused): drop them.
    outside = [p for p in indexed if not is_under(p, all_roots) and p not in plan.remove]
    refused_unchanged = sum(1 for r in refused if skipped_before.get(r.path) == (r.size, r.mtime_ns, r.reason))
    report.files_seen, report.unchanged = plan.seen + len(refused), plan.unchanged + refused_unchanged
    log.info(
        "index: %d files, %d unchanged, %d to analyse, %d moved/touched, %d removed",
        plan.seen, plan.unchanged, len(plan.analyse), len(plan.restat), len(plan.remove),
    )  # fmt: skip
    old_paths = set(store.file_states(conn))
    with store.Transaction(conn):
        for fid, path, st in plan.restat:
            store.update_stat(conn, fid, path, st.size, st.mtime_ns)
        report.removed = store.remove_files(conn, plan.remove + outside)
        for r in refused:  # links out of the library: reported like any skipped file, with where they lead
            before = skipped_before.get(r.path)
            if before != (r.size, r.mtime_ns, r.reason):
                store.write_result(conn, FileResult(r.path, r.size, r.mtime_ns, None, reason=r.reason), None, None)
                report.skipped_new += 1
    report.renamed = sum(1 for _fid, path, _st in plan.restat if path not in old_paths)

    want_pieces = encoder is not None
    tokens = token_spec(encoder) if encoder is not None else None  # tokenise on the workers when we can
    done = 0
    batch: list[FileResult] = []
    last_commit = time.monotonic()
    for result in analyse_all(plan.analyse, workers, want_pieces, tokens):
        batch.append(result)
        done += 1
        if progress:
            progress("analyse", done, len(plan.analyse))
        if len(batch) >= BATCH_FILES or time.monotonic() - last_commit > BATCH_SECONDS:
            _commit_batch(conn, batch, encoder, model, report, old_paths)
            batch, last_commit = [], time.monotonic()
    if batch:
        _commit_batch(conn, batch, encoder, model, report, old_paths)

    if encoder is not None:
        report.embedded += embed_missing(conn, encoder, model, progress)
        with store.Transaction(conn):
            store.set_meta(conn, "model", model)
    with store.Transaction(conn):
        store.set_meta(conn, "last_index", str(time.time()))
    report.windows = store.counts(conn)["windows"]
    report.issues = issues(conn)
    report.seconds = time.monotonic() - t0
    return report


def _commit_batch(conn, batch: list[FileResult], encoder, model, report: IndexReport, old_paths: set[str]) -> None:
    vectors = _embed_results(batch, encoder) if encoder is not None else {}
    with store.Transaction(conn):
        for r in batch:
            store.write_result(conn, r, vectors.get(r.path), model)
    for r in batch:
        if not r.ok:
            report.skipped_new += 1
        elif r.path in old_paths:
            report.updated += 1
        else:
            report.added += 1
        report.embedded += len(vectors.get(r.path, ()))
    _test_pause()


def _test_pause() -> None:
    """Lets the crash-safety test kill a run between (and during) batches."""
    delay = float(os.environ.get("MIDIBRIDGE_INDEX_TEST_BATCH_DELAY", "0") or 0)
    if delay:
        time.sleep(delay)


def token_spec(encoder: Encoder) -> TokenSpec | None:
    """How `encoder`'s MIDI tower reads a window, when it says so (bridge.inference.RetrievalEncoders: its model
    dir, tokenizer file, max_len and header) and can encode token ids; None: workers send pieces instead."""
    try:
        cfg = encoder.midi_cfg  # type: ignore[attr-defined]
        path = Path(encoder.model_dir) / cfg.tokenizer  # type: ignore[attr-defined]
        if not callable(getattr(encoder, "encode_token_ids", None)) or not path.is_file():
            return None
        return TokenSpec(str(path), int(cfg.max_len), bool(getattr(cfg, "header", False)))
    except (AttributeError, TypeError, ValueError):
        return None


def _embed_results(batch: list[FileResult], encoder: Encoder) -> dict[str, np.ndarray]:
    """Every window of the batch's files through the tower in one go (across files: full, length-sorted
    batches), from the workers' token ids, or from pieces where a worker sent those."""
    pieces, piece_owners, ids, id_owners = [], [], [], []
    for r in batch:
        for p in r.pieces or ():
            pieces.append(p)
            piece_owners.append(r.path)
        for t in r.token_ids or ():
            ids.append(t)
            id_owners.append(r.path)
    out: dict[str, list[np.ndarray]] = {}
    if ids:
        for path, v in zip(id_owners, _encode_ids_in_chunks(encoder, ids)):
            out.setdefault(path, []).append(v)
    if pieces:
        for path, v in zip(piece_owners, _encode_in_chunks(encoder, pieces)):
            out.setdefault(path, []).append(v)
    return {p: np.stack(v) for p, v in out.items()}


def _encode_ids_in_chunks(encoder: Encoder, ids: list[np.ndarray]) -> np.ndarray:
    step = EMBED_BATCH * 4  # the encoder sorts each chunk by length and runs it in batches of 32
    parts = [encoder.encode_token_ids(ids[i : i + step]) for i in range(0, len(ids), step)]  # type: ignore
    return np.concatenate(parts).astype(np.float32)


def _encode_in_chunks(encoder: Encoder, pieces: list) -> np.ndarray:
    parts = [encoder.encode_pieces(pieces[i : i + EMBED_BATCH]) for i in range(0, len(pieces), EMBED_BATCH)]
    return np.concatenate(parts).astype(np.float32)


def embed_missing(conn: sqlite3.Connection, encoder: Encoder, model: str, progress: Progress | None = None) -> int:
    """Embed every window that has no vector from `model` (indexed without a model, or a model change)."""
    missing = store.windows_missing_vectors(conn, model)
    total = sum(len(v) for v in missing.values())
    if not total:
        return 0
    log.info("embedding %d windows with %s", total, model)
    done = 0
    pending: list[tuple[int, object]] = []

    def flush() -> None:
        if not pending:
            return
        vecs = _encode_in_chunks(encoder, [p for _wid, p in pending])
        with store.Transaction(conn):
            for (wid, _p), v in zip(pending, vecs):
                store.put_vector(conn, wid, model, v)
        pending.clear()

    for path, rows in missing.items():
        _path, pieces, error = load_window_pieces(path, [(a, b) for _wid, a, b in rows])
        if pieces is None:
            log.warning("cannot embed %s: %s", path, error)
            continue
        pending.extend((wid, p) for (wid, _a, _b), p in zip(rows, pieces))
        done += len(rows)
        if len(pending) >= EMBED_BATCH * 4:
            flush()
            _test_pause()
        if progress:
            progress("embed", done, total)
    flush()
    return done


def issues(conn: sqlite3.Connection) -> list[FileIssue]:
    out = [FileIssue(p, r, "skipped") for p, r in store.skipped_report(conn)]
    out += [FileIssue(p, "; ".join(w), "capped") for p, w in store.capped_report(conn)]
    return sorted(out, key=lambda i: i.path)


# ---- parallel analysis ---------------------------------------------------------------------------


def analyse_all(
    paths: list[str], workers: int, want_pieces: bool, tokens: TokenSpec | None = None
) -> Iterator[FileResult]:
    """Analyse `paths` on `workers` processes, yielding results as they finish (order not kept).

    A worker that dies (a parser crash on a hostile file) breaks the pool; the files that were in flight
    are retried one at a time in a fresh pool, and the one that kills it again is skipped with a reason.
    """
    # A daemonic process (the daemon's search worker) may not start children: analyse in-process there.
    if workers <= 1 or len(paths) < INLINE_BELOW or multiprocessing.current_process().daemon:
        for p in paths:
            yield analyse_file(p, want_pieces, tokens)
        return
    queue = list(reversed(paths))
    suspects: list[str] = []
    while queue:
        with _pool(workers) as pool:
            inflight: dict[Future, str] = {}
            try:
                while queue or inflight:
                    while queue and len(inflight) < 4 * workers:
                        # submit raises BrokenProcessPool once a worker died: take the path off the queue
                        # only after it is in flight, or it would be lost.
                        inflight[pool.submit(analyse_file, queue[-1], want_pieces, tokens)] = queue[-1]
                        queue.pop()
                    finished, _ = wait(inflight, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        try:
                            result = fut.result()  # raises BrokenProcessPool while `fut` is still in flight
                        except BrokenProcessPool:
                            raise
                        except Exception as e:  # e.g. a result that cannot be sent back: skip that file only
                            result = _failed(inflight[fut], e)
                        del inflight[fut]
                        yield result
            except BrokenProcessPool:
                suspects.extend(inflight.values())
                log.warning("an analysis worker died; retrying %d files one by one", len(suspects))
                _abandon(pool)
        for path in suspects:
            yield _analyse_isolated(path, want_pieces, tokens)
        suspects = []


def _failed(path: str, e: BaseException) -> FileResult:
    log.warning("analysing %s failed: %s: %s", path, type(e).__name__, e)
    try:
        st = os.stat(path)
        size, mtime = st.st_size, st.st_mtime_ns
    except OSError:
        size, mtime = 0, 0
    return FileResult(path, size, mtime, None, reason=f"analysis failed: {type(e).__name__}: {str(e)[:200]}")


def _analyse_isolated(path: str, want_pieces: bool, tokens: TokenSpec | None = None) -> FileResult:
    with _pool(1) as pool:
        try:
            return pool.submit(analyse_file, path, want_pieces, tokens).result()
        except BrokenProcessPool:
            _abandon(pool)
            st = Path(path).stat() if Path(path).exists() else None
            return FileResult(
                path, st.st_size if st else 0, st.st_mtime_ns if st else 0, None, reason="the MIDI parser crashed on it"
            )
        except Exception as e:
            return _failed(path, e)


def _abandon(pool: ProcessPoolExecutor) -> None:
    """End a broken pool without waiting on it: its surviving workers are killed first. Waiting (the `with`
    block's shutdown) could block for ever when a worker died while sending a result back, since the pool's
    manager thread then waits on a message that never completes."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def _pool(workers: int) -> ProcessPoolExecutor:
    # forkserver: fast worker start without forking a parent that may hold onnxruntime threads.
    # Preloading only the analysis code (not the default `__main__`) means workers never re-run a caller's
    # script or `python -m` entry point, and start with numpy/symusic already imported.
    method = "forkserver" if sys.platform.startswith("linux") else "spawn"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["bridge.library.ingest"])
    # The forkserver keeps the environment of the moment it started; workers get the caller's current one.
    env = {k: v for k, v in os.environ.items() if k.startswith("MIDIBRIDGE_")}
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_worker_init, initargs=(env, os.getpid())
    )


def _worker_init(env: dict[str, str], owner_pid: int) -> None:
    _worker_env(env)
    _die_with(owner_pid)


def _die_with(owner_pid: int) -> None:
    """End this worker as soon as the process that owns the pool is gone (even by SIGKILL).

    A forkserver worker is the forkserver's child, not the owner's, and both the worker and the forkserver
    hold pipe ends that keep each other waiting: without this, a killed `index` leaves them behind for good.
    A pidfd (Linux >= 5.3) wakes the watcher the moment the owner exits; elsewhere it polls.
    """
    if os.getppid() == owner_pid and sys.platform.startswith("linux"):
        _set_parent_death_signal()  # spawn start method: the owner is our parent

    def watch() -> None:
        pidfd = None
        try:
            pidfd = os.pidfd_open(owner_pid)  # type: ignore[attr-defined]
        except (AttributeError, OSError):
            pass
        if pidfd is not None:
            select.select([pidfd], [], [])
            os._exit(1)
        while True:
            try:
                os.kill(owner_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except OSError:
                pass
            time.sleep(0.5)

    threading.Thread(target=watch, name="midibridge-owner-watch", daemon=True).start()


def _set_parent_death_signal() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker_env(env: dict[str, str]) -> None:
    # A signal mask survives fork and exec: a parent whose threads block SIGTERM (libjack's do) would give us
    # workers that ignore the pool's terminate() after a crash, and the pool would wait for them forever.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    for k in [k for k in os.environ if k.startswith("MIDIBRIDGE_") and k not in env]:
        del os.environ[k]
    os.environ.update(env)
