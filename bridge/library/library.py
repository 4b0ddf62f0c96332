"""`Library`: the user's MIDI library as one object: index it, search it, read hits back.

Thread safety: `search`, `stats`, `report` and `load_hit_piece` may be called from several threads at
once (the daemon's worker threads), also while another *process* runs `midibridge index` on the same
directory: SQLite WAL gives readers a consistent committed state and searches run on an immutable
snapshot that is swapped, never mutated. Only one `index` runs per directory at a time (a lock file
enforces it across processes); calling `index` and `search` on one `Library` object concurrently is
safe too, since the indexer has its own connection.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bridge import paths
from bridge.analysis.melody import MelodyIndex, piece_melody
from bridge.library import ann, ranking, snapshot_cache, store
from bridge.library.indexer import Progress, issues, run_index
from bridge.library.ingest import DRUM_PROGRAM
from bridge.library.snapshot import Snapshot, instrument_label, load_snapshot
from bridge.library.types import Encoder, FileIssue, Hit, IndexReport, SearchQuery, SearchResult, model_key
from bridge.music import Piece, load_midi
from bridge.query import Constraints, parse_bpm_range, parse_instrument, parse_key, parse_meter, parse_query

log = logging.getLogger(__name__)

LOCK_NAME = "index.lock"
MAP_VECTORS_FROM = 64 << 20  # bytes of vectors from which a snapshot read from SQLite is swapped for its map


class LibraryBusy(RuntimeError):
    """Another process is indexing this library right now."""


class Library:
    def __init__(self, db_dir: Path, encoder: Encoder | None = None):
        self.db_dir = Path(db_dir)
        self.encoder = encoder
        self._conn = store.connect(self.db_dir)
        self._conn_lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._snapshot_lock = threading.Lock()
        self._warned: set[str] = set()
        self._melody: tuple[int, MelodyIndex] | None = None  # (generation, index) for query by example
        self._melody_lock = threading.Lock()
        self._ann = ann.Holder()  # the approximate index of large libraries (bridge.library.ann)
        self._query_vectors = QueryVectors()  # the same text asked again (a filter added, the next page)
        self.ann_build = "background"  # "now", "background" (exact meanwhile) or "never" (saved index only)

    @staticmethod
    def open(db_dir: str | os.PathLike | None = None, encoder: Encoder | None = None) -> Library:
        """Open (creating if needed) the index at `db_dir` (default: paths.default_db_path())."""
        return Library(Path(db_dir) if db_dir is not None else paths.default_db_path(), encoder)

    def close(self) -> None:
        with self._conn_lock:
            self._conn.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- indexing ----------------------------------------------------------------------------------

    def index(
        self, dirs: Sequence[str | os.PathLike] | None = None, progress: Progress | None = None, workers: int = 2
    ) -> IndexReport:
        """Bring the index up to date with `dirs` (default: every folder indexed before, else the bundled clips)."""
        with self._index_lock():
            conn = store.connect(self.db_dir)
            try:
                roots = [str(Path(d).expanduser().resolve()) for d in dirs] if dirs else store.roots(conn)
                if not roots and paths.bundled_library_dir().is_dir():
                    roots = [str(paths.bundled_library_dir())]
                report = run_index(conn, roots, self.encoder, workers, progress)
            finally:
                conn.close()
        if self.encoder is not None and report.windows >= max(ann.min_windows(), 1):
            try:  # a large library: its approximate index is built now, not on the first search
                ann_progress = (lambda done, total: progress("ann", done, total)) if progress else None
                self.vector_index(self.snapshot(), build="now", progress=ann_progress)
            except Exception as e:  # the index is committed; searches stay exact
                log.warning("cannot build the approximate index: %s", e)
        return report

    def ensure_indexed(self, progress: Progress | None = None) -> IndexReport | None:
        """Zero configuration: a library that was never indexed gets the bundled clips."""
        with self._conn_lock:
            # Roots are committed first thing in a run, so a killed first run still counts as "indexed".
            never = not store.roots(self._conn)
        bundled = paths.bundled_library_dir()
        if not never or not any(bundled.rglob("*.mid")):
            return None
        log.info("library at %s was never indexed; indexing the bundled clips", self.db_dir)
        try:
            return self.index([bundled], progress=progress)
        except LibraryBusy:
            return None

    def _index_lock(self):
        return _FileLock(self.db_dir / LOCK_NAME)

    # ---- reading -----------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The current index in memory, reloaded when another transaction has been committed."""
        with self._conn_lock:
            gen = store.generation(self._conn)
        snap = self._snapshot
        if snap is not None and snap.generation == gen:
            return snap
        with self._snapshot_lock:
            if self._snapshot is None or self._snapshot.generation != gen:
                self._snapshot = self._load_snapshot(gen)
            return self._snapshot

    def _load_snapshot(self, gen: int) -> Snapshot:
        """From the disk cache of this generation if there is one, else from SQLite (then cached)."""
        model = model_key(self.encoder) if self.encoder is not None else None
        with self._conn_lock:
            db_id = store.get_meta(self._conn, "db_id")
        cached = snapshot_cache.load(snapshot_cache.cache_path(self.db_dir, db_id, gen, model)) if db_id else None
        if cached is not None and cached.generation == gen:
            return cached
        with self._conn_lock:
            snap = load_snapshot(self._conn, model)
        if db_id:
            path = snapshot_cache.cache_path(self.db_dir, db_id, snap.generation, model)
            self._save_cache(snap, path)
            if snap.vectors is not None and snap.vectors.nbytes >= MAP_VECTORS_FROM:
                # A large matrix read from SQLite is process memory; the cache just written maps it instead
                # (file-backed pages, read only where searched), so the copy read from SQLite can go.
                mapped = snapshot_cache.load(path)
                if mapped is not None and mapped.generation == snap.generation and len(mapped) == len(snap):
                    return mapped
        return snap

    def _save_cache(self, snap: Snapshot, path: Path) -> None:
        """Only while no index run is writing (the lock): that generation is then the current one."""
        try:
            with self._index_lock():
                with self._conn_lock:
                    current = store.generation(self._conn)
                if current == snap.generation:
                    snapshot_cache.save(snap, path)
        except LibraryBusy:
            pass  # an index run is committing; the next load after it finishes writes the cache
        except OSError as e:  # read-only folder, full disk: the cache is only an accelerator
            log.info("cannot write the snapshot cache: %s", e)

    def search(self, query: SearchQuery) -> list[Hit]:
        return self.search_with_info(query).hits

    def search_with_info(self, query: SearchQuery) -> SearchResult:
        snap = self.snapshot()
        filters = _filters(query)
        constraints = parse_query(query.text) if query.text else Constraints()
        warnings: list[str] = []
        score, ranking_mode = self._similarity(snap, query, constraints, warnings)
        score, shift = score if isinstance(score, tuple) else (score, None)  # a transposed example: best shift
        mask = ranking.filter_mask(snap, filters)
        checks = ranking.constraint_checks(snap, constraints)
        searched = int(np.count_nonzero(mask))
        if isinstance(score, _ApproximateQuery):  # a large library: rank the graph's candidates (exact cosines)
            rows, score = score.index.candidates(snap, score.vector, mask, checks, query.k)
            snap, mask, checks = snap.take(rows), np.ones(len(rows), dtype=bool), [(c, ok[rows]) for c, ok in checks]
        ranked = ranking.rank(snap, mask, checks, score, query.k)
        hits = [_hit(snap, r, int(shift[r.index]) if shift is not None else 0) for r in ranked]
        return SearchResult(hits, ranking_mode, constraints.to_dict(), tuple(warnings), searched)

    def _similarity(
        self, snap: Snapshot, query: SearchQuery, c: Constraints, warnings: list[str]
    ) -> tuple[np.ndarray | tuple[np.ndarray, np.ndarray], str]:
        usable = self.encoder is not None and snap.vectors is not None
        if self.encoder is None:
            self._warn(warnings, "no retrieval model loaded: ranking by musical features only")
        elif snap.vectors is None:
            self._warn(warnings, "no vectors from this model yet (run `midibridge index`): ranking by features")
        elif snap.n_embedded < len(snap):
            missing = len(snap) - snap.n_embedded
            self._warn(warnings, f"{missing} windows are not embedded yet (run `midibridge index`)")
        if query.like_piece is not None:
            shifts = ranking.TRANSPOSE_SHIFTS if query.transpose else (0,)
            if usable:
                pieces = [ranking.transposed(query.like_piece, s) for s in shifts]
                per_shift = np.stack([_cosine(snap, q) for q in self.encoder.encode_pieces(pieces)])
            else:
                per_shift = np.stack([_like_features(snap, query.like_piece, s) for s in shifts])
            mode = "embedding" if usable else "features"
            score, shift = ranking.best_shift(per_shift, shifts)
            # The melody decides (interval n-grams at their transposition); the tower or features break ties.
            melody, melody_shift = self.melody_index(snap).score(piece_melody(query.like_piece), query.transpose)
            shift = np.where(melody > 0, melody_shift, shift)
            return (ranking.example_score(score, melody), shift), mode
        if query.text and usable:
            q = self._query_vectors.get(self.encoder, query.text)
            index = self.vector_index(snap)
            return (_ApproximateQuery(index, q) if index is not None else _cosine(snap, q)), "embedding"
        return ranking.feature_text_score(snap, c), "features"

    def forget_query_vectors(self) -> None:
        """Encode every text again (benchmarks time the text tower on every query)."""
        self._query_vectors.clear()

    def melody_index(self, snap: Snapshot) -> MelodyIndex:
        """The melodies of `snap`'s windows (skyline interval n-grams), built from the files on the first
        search by example after each index change and kept on disk beside the index."""
        with self._melody_lock:
            if self._melody is not None and self._melody[0] == snap.generation:
                return self._melody[1]
            with self._conn_lock:
                db_id = store.get_meta(self._conn, "db_id") or "db"
            path = self.db_dir / MELODY_CACHE_DIR / f"{db_id}-g{snap.generation}-n{len(snap)}.npz"
            index = _load_melody(path, len(snap))
            if index is None:
                index = _build_melody(snap)
                _save_melody(index, path)
            self._melody = (snap.generation, index)
            return index

    def vector_index(self, snap: Snapshot, build: str | None = None, progress=None) -> ann.VectorIndex | None:
        """`snap`'s approximate index when it is large enough (`ann.min_windows()`) and the index is ready."""
        ready = self._ann.ready(snap)
        if ready is not None or not ann.wanted(snap):
            return ready
        with self._conn_lock:
            db_id = store.get_meta(self._conn, "db_id")
        prefix = None
        if db_id:  # beside the snapshot cache of this generation and model
            prefix = snapshot_cache.cache_path(self.db_dir, db_id, snap.generation, snap.model).with_suffix("")
        return self._ann.get(snap, prefix, build or self.ann_build, self._save_ann, progress)

    def search_mode(self, snap: Snapshot | None = None) -> str:
        """"exact" or "approximate (faiss, N unique vectors)"; loads the saved index, or starts its build."""
        snap = snap if snap is not None else self.snapshot()
        if self.encoder is not None:
            self.vector_index(snap)
        return self._ann.describe(snap)

    def _save_ann(self, index: ann.VectorIndex, prefix: Path) -> None:
        """Like `_save_cache`: only while no index run writes, and only for the current generation."""
        try:
            with self._index_lock():
                with self._conn_lock:
                    current = store.generation(self._conn)
                if current == index.generation:
                    ann.save(index, prefix)
                    snapshot_cache.prune(prefix)
        except LibraryBusy:
            pass
        except OSError as e:
            log.info("cannot write the approximate index: %s", e)

    def _warn(self, warnings: list[str], text: str) -> None:
        """Every result carries the warning; the log gets it once per library (a daemon searches often)."""
        warnings.append(text)
        if text not in self._warned:
            self._warned.add(text)
            log.warning(text)

    def load_hit_piece(self, hit: Hit) -> Piece:
        """The hit's window as a Piece (times from 0), read from the file on disk."""
        return load_midi(hit.file).window(hit.start_quarters, hit.end_quarters)

    def stats(self) -> dict:
        snap = self.snapshot()
        with self._conn_lock:
            counts = store.counts(self._conn)
            model = store.get_meta(self._conn, "model")
            roots = store.roots(self._conn)
            file_rows = self._conn.execute("SELECT key, tempo_word, meter FROM files").fetchall()
        lows, per_bin = np.unique((snap.tempo // 20).astype(np.int64) * 20, return_counts=True)  # 20-BPM bins
        tempo_bins = {f"{lo}-{lo + 19}": int(c) for lo, c in zip(lows.tolist(), per_bin.tolist())}
        programs = snap.program_counts()
        return {
            "db": str(self.db_dir),
            "roots": roots,
            **counts,
            "model": model,
            "search": self._stats_search_mode(snap, counts["vectors"]),
            "keys": dict(Counter(r[0] for r in file_rows).most_common()),
            "tempo_words": dict(Counter(r[1] for r in file_rows).most_common()),
            "meters": dict(Counter(r[2] for r in file_rows).most_common()),
            "window_tempo_bpm": dict(sorted(tempo_bins.items(), key=lambda kv: int(kv[0].split("-")[0]))),
            "instruments": {
                instrument_label(int(p)): int(programs[p])
                for p in np.argsort(-programs)
                if programs[p] > 0 and p <= DRUM_PROGRAM
            },
        }

    def _stats_search_mode(self, snap: Snapshot, vectors: int) -> str:
        if snap.vectors is not None or self.encoder is not None:
            return self.search_mode(snap)
        # Opened without the model (`library stats`): what a search with it would use, from the saved index.
        if vectors < max(ann.min_windows(), 1) or not ann.available():
            return "exact"
        with self._conn_lock:
            db_id = store.get_meta(self._conn, "db_id")
        found = snapshot_cache.saved_ann_unique(self.db_dir, db_id, snap.generation) if db_id else None
        return ann.describe_unique(found) if found is not None else "approximate (index not built yet)"

    def report(self) -> list[FileIssue]:
        with self._conn_lock:
            return issues(self._conn)


MELODY_CACHE_DIR = "melody_cache"


def _build_melody(snap: Snapshot) -> MelodyIndex:
    melodies: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(snap)
    for slot, path in enumerate(snap.files):
        rows = np.nonzero(snap.file_of == slot)[0]
        if not len(rows):
            continue
        try:
            piece = load_midi(path)
        except Exception as e:  # a file changed or vanished since indexing: its windows have no melody
            log.info("no melody for %s: %s", path, e)
            continue
        for i in rows:
            melodies[i] = piece_melody(piece.window(float(snap.start_q[i]), float(snap.stop_q[i])))
    return MelodyIndex.build(melodies)


def _load_melody(path: Path, n_windows: int) -> MelodyIndex | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            index = MelodyIndex.from_arrays({k: data[k] for k in data.files})
    except (OSError, ValueError, KeyError):
        return None
    return index if index.n_windows == n_windows else None


def _save_melody(index: MelodyIndex, path: Path) -> None:
    """Atomically, replacing older generations' files; a read-only folder only costs a rebuild next time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, **index.to_arrays())
        os.replace(tmp, path)
        for old in path.parent.glob("*.npz"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as e:
        log.info("cannot write the melody cache: %s", e)


class QueryVectors:
    """The text tower's vectors of the last `size` texts asked: a musician pages through hits, adds a filter or
    asks again, and the tower (~1-2 ms of a search) need not run twice for one text. Kept for one encoder
    object at a time (another one empties it)."""

    def __init__(self, size: int = 256):
        self.size = size
        self._encoder: Encoder | None = None
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, encoder: Encoder, text: str) -> np.ndarray:
        with self._lock:
            if encoder is not self._encoder:
                self._encoder, self._vectors = encoder, OrderedDict()
            q = self._vectors.get(text)
            if q is not None:
                self._vectors.move_to_end(text)
                return q
        q = np.array(encoder.encode_text([text])[0])
        q.flags.writeable = False
        with self._lock:
            if encoder is self._encoder:
                self._vectors[text] = q
                while len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
        return q

    def clear(self) -> None:
        with self._lock:
            self._vectors.clear()


class _ApproximateQuery:
    """A text query's vector for a library searched through its approximate index."""

    def __init__(self, index: ann.VectorIndex, vector: np.ndarray):
        self.index, self.vector = index, vector


def _cosine(snap: Snapshot, q: np.ndarray) -> np.ndarray:
    # einsum, not `@`: OpenBLAS spreads one mat-vec over every core and, on a loaded 2-core machine,
    # waits for them (measured 9-19 ms p50 at 10k x 384) where einsum's single-threaded SIMD loop takes ~1.5 ms.
    scores = np.einsum("ij,j->i", snap.vectors, np.asarray(q, dtype=np.float32))
    return np.where(snap.has_vector, scores, -1.0)


def _like_features(snap: Snapshot, piece: Piece, shift: int = 0) -> np.ndarray:
    from bridge.analysis.key import pitch_class_histogram
    from bridge.analysis.tempo import main_tempo

    notes = piece.notes
    programs = np.zeros(DRUM_PROGRAM + 1, dtype=bool)
    programs[np.unique(np.where(notes.is_drum, DRUM_PROGRAM, notes.program.astype(np.int64)))] = True
    meter = str(piece.time_signature_at(0.0))
    hist = np.roll(pitch_class_histogram(notes), shift)  # the example `shift` semitones up
    return ranking.feature_like_score(snap, hist, main_tempo(piece), meter, programs)


def _filters(q: SearchQuery) -> ranking.Filters:
    """Parse the option strings; ValueError messages name the valid forms."""
    tonic, mode = parse_key(q.key) if q.key else (None, None)
    if q.mode is not None:
        if q.mode.lower() not in ("major", "minor"):
            raise ValueError(f"mode must be 'major' or 'minor', got {q.mode!r}")
        mode = q.mode.lower()
    tempo = q.tempo
    if isinstance(tempo, str):
        tempo = parse_bpm_range(tempo)
    return ranking.Filters(
        tonic_pc=tonic,
        mode=mode,
        tempo=tuple(tempo) if tempo else None,
        meter=parse_meter(q.meter) if q.meter else None,
        instrument=parse_instrument(q.instrument) if q.instrument else None,
        min_bars=q.min_bars,
        exclude_file=q.exclude_file,
        exclude_hash=q.exclude_hash,
    )


def _hit(snap: Snapshot, r: ranking.Ranked, transpose: int = 0) -> Hit:
    i = r.index
    return Hit(
        file=snap.files[snap.file_of[i]],
        window_start_bar=int(snap.start_bar[i]) + 1,
        window_end_bar=int(snap.end_bar[i]),
        start_seconds=float(snap.start_s[i]),
        end_seconds=float(snap.end_s[i]),
        score=r.score,
        key=snap.key_names[i],
        tempo=float(snap.tempo[i]),
        meter=snap.meters[snap.meter[i]],
        instruments=snap.instruments(i),
        start_quarters=float(snap.start_q[i]),
        end_quarters=float(snap.stop_q[i]),
        tempo_word=snap.tempo_words[i],
        matched=r.matched,
        missed=r.missed,
        transpose=transpose,
    )


class _FileLock:
    """An exclusive, non-blocking lock across processes (released by the OS if the holder is killed)."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> _FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock(fd)
        except OSError as e:
            os.close(fd)
            raise LibraryBusy(f"another `midibridge index` is running on {self.path.parent}") from e
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            _unlock(self._fd)
            os.close(self._fd)
            self._fd = None


if sys.platform == "win32":
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
