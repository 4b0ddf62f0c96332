"""The index on disk: one SQLite database (WAL) holding file metadata, windows and their vectors.

Everything lives in one database so that one transaction covers a batch of files, their windows and
their vectors: a kill -9 at any moment leaves either the previous state or the new one, never a mix.
`meta.generation` is bumped in every write transaction, so readers know cheaply when to reload.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from bridge.library.ingest import FileResult, WindowRecord

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3  # 2: windows.programs as packed bits; 3: section keys in windows, onset-median tempo
DB_NAME = "library.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roots (path TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hash TEXT NOT NULL,
    indexed_at REAL NOT NULL,
    key TEXT, tempo REAL, tempo_word TEXT, meter TEXT, bars REAL, seconds REAL,
    warnings TEXT NOT NULL DEFAULT '[]',   -- JSON list: why the file was capped
    analysis TEXT NOT NULL DEFAULT '{}'    -- JSON: bridge.analysis PieceAnalysis.to_dict()
);
CREATE INDEX IF NOT EXISTS files_hash ON files(hash);
CREATE TABLE IF NOT EXISTS windows (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    start_bar INTEGER NOT NULL, end_bar INTEGER NOT NULL,
    start_q REAL NOT NULL, stop_q REAL NOT NULL, start_s REAL NOT NULL, end_s REAL NOT NULL,
    tonic_pc INTEGER NOT NULL, mode TEXT NOT NULL, key TEXT NOT NULL, key_confidence REAL NOT NULL,
    tempo REAL NOT NULL, tempo_word TEXT NOT NULL, meter TEXT NOT NULL,
    programs BLOB NOT NULL,                -- np.packbits of 129 flags: GM programs 0-127, 128 = drums
    n_notes INTEGER NOT NULL, register TEXT NOT NULL, dynamics TEXT NOT NULL, texture TEXT NOT NULL,
    pc_hist BLOB NOT NULL                  -- 12 float32
);
CREATE INDEX IF NOT EXISTS windows_file ON windows(file_id);
CREATE TABLE IF NOT EXISTS vectors (
    window_id INTEGER PRIMARY KEY REFERENCES windows(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    vec BLOB NOT NULL                      -- dim float32, L2-normalised
);
CREATE TABLE IF NOT EXISTS skipped (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    reason TEXT NOT NULL, at REAL NOT NULL
);
"""


class IndexCorrupt(sqlite3.DatabaseError):
    """The index file exists but is not a readable midibridge index; str(error) is one line naming it."""

    def __init__(self, path: Path, detail: str):
        detail = " ".join(w for w in detail.split() if w.strip("*")) or "unreadable"
        detail = detail.removeprefix("in database main ")[:200]
        super().__init__(
            f"the library index {path} is damaged ({detail}); it was left as it is: "
            f"move or delete it, then `midibridge index DIR` builds a new one"
        )
        self.path = path


def connect(db_dir: Path) -> sqlite3.Connection:
    """A connection with the pragmas every user of the index needs (WAL, foreign keys, busy wait).

    A missing index is created complete under a temporary name and then linked into place, so an index
    file that exists is always a whole database: an empty or foreign one is damage (`IndexCorrupt`), never
    something to silently start over in.
    """
    db_dir.mkdir(parents=True, exist_ok=True)
    path = db_dir / DB_NAME
    if not path.exists():
        _create(path)
    _check_header(path)
    try:
        conn = _open(path)
    except sqlite3.DatabaseError as e:
        raise _damage(path, e) from e
    try:
        _migrate(conn)
    except sqlite3.DatabaseError as e:
        conn.close()
        raise _damage(path, e) from e
    return conn


def _open(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30.0, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA journal_mode = WAL")
    # NORMAL in WAL mode is durable against process crashes (kill -9); only a power cut may lose
    # the last transactions, never corrupt the database.
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _create(path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.new")
    try:
        conn = _open(tmp)
        try:
            _migrate(conn)
        finally:
            conn.close()  # the last connection checkpoints the WAL into the file and removes it
        try:
            os.link(tmp, path)  # never replaces an index another process created meanwhile
        except FileExistsError:
            pass
        except OSError:  # no hard links on this file system
            if not path.exists():
                os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
            try:
                leftover.unlink()
            except OSError:
                pass


def _check_header(path: Path) -> None:
    """An empty index file is damage. Only stat here, never open(): closing any descriptor of the database
    file drops every POSIX lock this process holds on it, so another process would checkpoint and delete the
    WAL under this process's open connections (SQLite's own "file is not a database" covers a foreign file)."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise sqlite3.OperationalError(f"cannot read the library index {path}: {e.strerror or e}") from e
    if size == 0:
        raise IndexCorrupt(path, "the file is empty, 0 bytes")


def _damage(path: Path, e: sqlite3.DatabaseError) -> sqlite3.DatabaseError:
    """Corruption as IndexCorrupt; a locked, read-only or unreadable index stays what it is."""
    if isinstance(e, IndexCorrupt) or (isinstance(e, sqlite3.OperationalError) and not is_corruption(e)):
        return e
    return IndexCorrupt(path, str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)


def is_corruption(e: sqlite3.Error) -> bool:
    text = str(e).lower()
    return any(w in text for w in ("malformed", "not a database", "corrupt", "no such table"))


def check_integrity(conn: sqlite3.Connection) -> None:
    """Raise IndexCorrupt unless SQLite's quick check passes: run before writing, so damage is not spread."""
    path = Path(conn.execute("PRAGMA database_list").fetchone()[2])
    try:
        rows = conn.execute("PRAGMA quick_check(1)").fetchall()
    except sqlite3.DatabaseError as e:
        raise _damage(path, e) from e
    if rows != [("ok",)]:
        raise IndexCorrupt(path, str(rows[0][0]) if rows else "integrity check failed")


def _migrate(conn: sqlite3.Connection) -> None:
    """The index is a cache of the user's files: an index written by another version is emptied (its
    folders are kept, so `midibridge index` with no arguments rebuilds it) rather than misread."""
    has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    found = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() if has_meta else None
    if found is not None and int(found[0]) == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if found is not None:
            log.warning(
                "index format %s is not %d: emptying it; `midibridge index` rebuilds it", found[0], SCHEMA_VERSION
            )
            for table in ("vectors", "windows", "files", "skipped"):
                conn.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")
        # Identifies this database among rebuilt ones in the same folder (names snapshot cache files).
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('db_id', ?)", (uuid.uuid4().hex[:12],))
        conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class Transaction:
    """`with Transaction(conn):` = BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error), bumping the generation."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")


def generation(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    return int(row[0]) if row else 0


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))


# ---- roots ---------------------------------------------------------------------------------------


def roots(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT path FROM roots ORDER BY path")]


def add_roots(conn: sqlite3.Connection, paths: Iterable[str]) -> None:
    conn.executemany("INSERT OR IGNORE INTO roots VALUES (?)", [(p,) for p in paths])


# ---- files ---------------------------------------------------------------------------------------


def file_states(conn: sqlite3.Connection) -> dict[str, tuple[int, int, int, str]]:
    """path -> (id, size, mtime_ns, hash) of every indexed file."""
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in conn.execute("SELECT path, id, size, mtime_ns, hash FROM files")}


def skipped_states(conn: sqlite3.Connection) -> dict[str, tuple[int, int, str]]:
    """path -> (size, mtime_ns, reason) of every file skipped by an earlier run."""
    return {r[0]: (r[1], r[2], r[3]) for r in conn.execute("SELECT path, size, mtime_ns, reason FROM skipped")}


def update_stat(conn: sqlite3.Connection, file_id: int, path: str, size: int, mtime_ns: int) -> None:
    """A rename or a touch: the content (hash) is unchanged, so windows and vectors stay."""
    conn.execute("DELETE FROM files WHERE path = ? AND id != ?", (path, file_id))
    conn.execute("UPDATE files SET path = ?, size = ?, mtime_ns = ? WHERE id = ?", (path, size, mtime_ns, file_id))
    conn.execute("DELETE FROM skipped WHERE path = ?", (path,))


def remove_files(conn: sqlite3.Connection, paths: Iterable[str]) -> int:
    paths = [(p,) for p in paths]
    conn.executemany("DELETE FROM files WHERE path = ?", paths)  # windows and vectors cascade
    conn.executemany("DELETE FROM skipped WHERE path = ?", paths)
    return len(paths)


def write_result(conn: sqlite3.Connection, result: FileResult, vectors: np.ndarray | None, model: str | None) -> None:
    """Replace whatever the index held for `result.path` by this analysis (or this skip)."""
    conn.execute("DELETE FROM files WHERE path = ?", (result.path,))
    conn.execute("DELETE FROM skipped WHERE path = ?", (result.path,))
    now = time.time()
    if not result.ok:
        conn.execute(
            "INSERT INTO skipped VALUES (?, ?, ?, ?, ?)",
            (result.path, result.size, result.mtime_ns, result.reason, now),
        )
        return
    info = result.info
    cur = conn.execute(
        "INSERT INTO files (path, size, mtime_ns, hash, indexed_at, key, tempo, tempo_word, meter, bars, seconds,"
        " warnings, analysis) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            result.path,
            result.size,
            result.mtime_ns,
            result.hash,
            now,
            info.get("key", {}).get("name"),
            info.get("tempo_bpm"),
            info.get("tempo_word"),
            info.get("time_signature"),
            info.get("bars"),
            info.get("seconds"),
            json.dumps(list(result.warnings)),
            json.dumps(info),
        ),
    )
    file_id = cur.lastrowid
    for i, w in enumerate(result.windows):
        window_id = _insert_window(conn, file_id, w)
        if vectors is not None:
            put_vector(conn, window_id, model, vectors[i])


def _insert_window(conn: sqlite3.Connection, file_id: int, w: WindowRecord) -> int:
    cur = conn.execute(
        "INSERT INTO windows (file_id, start_bar, end_bar, start_q, stop_q, start_s, end_s, tonic_pc, mode, key,"
        " key_confidence, tempo, tempo_word, meter, programs, n_notes, register, dynamics, texture, pc_hist)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            file_id,
            w.start_bar,
            w.end_bar,
            w.start_q,
            w.stop_q,
            w.start_s,
            w.end_s,
            w.tonic_pc,
            w.mode,
            w.key,
            w.key_confidence,
            w.tempo,
            w.tempo_word,
            w.meter,
            program_bits(w.programs),
            w.n_notes,
            w.register,
            w.dynamics,
            w.texture,
            np.asarray(w.pc_hist, dtype=np.float32).tobytes(),
        ),
    )
    return int(cur.lastrowid)


def program_bits(programs) -> bytes:
    flags = np.zeros(129, dtype=bool)
    flags[list(programs)] = True
    return np.packbits(flags).tobytes()


# ---- vectors -------------------------------------------------------------------------------------


def put_vector(conn: sqlite3.Connection, window_id: int, model: str | None, vec: np.ndarray) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
        (window_id, model, np.ascontiguousarray(vec, dtype=np.float32).tobytes()),
    )


def windows_missing_vectors(conn: sqlite3.Connection, model: str) -> dict[str, list[tuple[int, float, float]]]:
    """path -> [(window_id, start_q, stop_q)] for windows with no vector from `model`."""
    out: dict[str, list[tuple[int, float, float]]] = {}
    rows = conn.execute(
        "SELECT f.path, w.id, w.start_q, w.stop_q FROM windows w JOIN files f ON f.id = w.file_id"
        " LEFT JOIN vectors v ON v.window_id = w.id WHERE v.model IS NULL OR v.model != ? ORDER BY f.path, w.id",
        (model,),
    )
    for path, wid, a, b in rows:
        out.setdefault(path, []).append((wid, a, b))
    return out


# ---- reports -------------------------------------------------------------------------------------


def skipped_report(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in conn.execute("SELECT path, reason FROM skipped ORDER BY path")]


def capped_report(conn: sqlite3.Connection) -> list[tuple[str, list[str]]]:
    rows = conn.execute("SELECT path, warnings FROM files WHERE warnings != '[]' ORDER BY path")
    return [(r[0], json.loads(r[1])) for r in rows]


def counts(conn: sqlite3.Connection) -> dict:
    one = conn.execute
    return {
        "files": one("SELECT COUNT(*) FROM files").fetchone()[0],
        "windows": one("SELECT COUNT(*) FROM windows").fetchone()[0],
        "vectors": one("SELECT COUNT(*) FROM vectors").fetchone()[0],
        "skipped": one("SELECT COUNT(*) FROM skipped").fetchone()[0],
        "capped": one("SELECT COUNT(*) FROM files WHERE warnings != '[]'").fetchone()[0],
    }
