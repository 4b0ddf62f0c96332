"""An immutable in-memory copy of the index (column arrays + vector matrix) that searches run on.

Loaded in one read transaction, so it is one consistent generation; a search holds a reference to
one snapshot, and a reload swaps in a new object, so concurrent searches never see a half-update.

Every per-window column is a numpy array, the words among them (key name, tempo word, texture, register,
dynamics) as small integer codes into a per-snapshot vocabulary (`*_vocab`, sorted): a check on them is one
table look-up over the codes, and a million windows cost a few MB instead of a million Python strings each.
Instruments are kept packed (`program_bits`, 17 bytes a window); `programs` unpacks them on demand.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from functools import cached_property

import numpy as np

from bridge.analysis import program_name
from bridge.library.ingest import DRUM_PROGRAM

N_PROGRAMS = DRUM_PROGRAM + 1
PROGRAM_BYTES = (N_PROGRAMS + 7) // 8
MODE_CODES = {"major": 0, "minor": 1, "none": 2}  # "none": drums only
# The word columns: (codes field, vocabulary field, the name the decoded column keeps for callers).
WORD_COLUMNS = (
    ("key_code", "key_vocab", "key_names"),
    ("tempo_word_code", "tempo_word_vocab", "tempo_words"),
    ("texture_code", "texture_vocab", "texture"),
    ("register_code", "register_vocab", "register"),
    ("dynamics_code", "dynamics_vocab", "dynamics"),
)


def code_dtype(vocab_size: int) -> np.dtype:
    """uint8 codes for a vocabulary of up to 256 words (every one so far holds a few dozen), else int32."""
    return np.dtype(np.uint8 if vocab_size <= 256 else np.int32)


@dataclass(frozen=True)
class Snapshot:
    generation: int
    files: tuple[str, ...]  # index = file slot
    file_hashes: tuple[str, ...]
    file_of: np.ndarray  # (N,) int32 file slot of each window
    window_ids: np.ndarray  # (N,) int64 SQLite ids
    start_bar: np.ndarray  # (N,) int32, 0-based
    end_bar: np.ndarray  # (N,) int32, exclusive
    start_q: np.ndarray
    stop_q: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    tonic_pc: np.ndarray  # (N,) int8
    mode: np.ndarray  # (N,) int8, MODE_CODES
    key_confidence: np.ndarray
    key_code: np.ndarray  # (N,) uint8 index into key_vocab ("A minor", "none"...)
    key_vocab: tuple[str, ...]
    tempo: np.ndarray  # (N,) float32
    tempo_word_code: np.ndarray  # (N,) uint8 index into tempo_word_vocab
    tempo_word_vocab: tuple[str, ...]
    meter: np.ndarray  # (N,) int16 index into `meters`
    meters: tuple[str, ...]
    # (N, 17) uint8: np.packbits of 129 flags (GM 0-127, 128 drums), column-major so that an instrument test
    # (one byte column: a family is one byte) reads one contiguous N-byte column
    program_bits: np.ndarray
    texture_code: np.ndarray  # (N,) uint8 index into texture_vocab
    texture_vocab: tuple[str, ...]
    register_code: np.ndarray
    register_vocab: tuple[str, ...]
    dynamics_code: np.ndarray
    dynamics_vocab: tuple[str, ...]
    pc_hist: np.ndarray  # (N, 12) float32
    vectors: np.ndarray | None  # (N, D) float32 (often a read-only memory map); rows without a vector are zero
    has_vector: np.ndarray  # (N,) bool
    model: str | None  # the model the vectors come from

    def __post_init__(self) -> None:
        bits = self.program_bits
        if bits.ndim == 2 and len(bits) > 1 and not bits.flags.f_contiguous:  # see `program_bits`
            object.__setattr__(self, "program_bits", np.asfortranarray(bits))

    def __len__(self) -> int:
        return int(self.file_of.shape[0])

    # ---- decoded views (for display and callers that want the words) ------------------------------

    @property
    def key_names(self) -> Decoded:
        return Decoded(self.key_code, self.key_vocab)

    @property
    def tempo_words(self) -> Decoded:
        return Decoded(self.tempo_word_code, self.tempo_word_vocab)

    @property
    def texture(self) -> Decoded:
        return Decoded(self.texture_code, self.texture_vocab)

    @property
    def register(self) -> Decoded:
        return Decoded(self.register_code, self.register_vocab)

    @property
    def dynamics(self) -> Decoded:
        return Decoded(self.dynamics_code, self.dynamics_vocab)

    @property
    def programs(self) -> np.ndarray:
        """(N, 129) bool, unpacked on each call (129 bytes a window): prefer `program_bits` on a hot path."""
        return np.unpackbits(self.program_bits, axis=1, count=N_PROGRAMS).astype(bool)

    def program_counts(self, chunk: int = 65_536) -> np.ndarray:
        """(129,) windows holding each program, without unpacking the whole matrix at once."""
        total = np.zeros(N_PROGRAMS, dtype=np.int64)
        for lo in range(0, len(self), chunk):
            bits = self.program_bits[lo : lo + chunk]
            total += np.unpackbits(bits, axis=1, count=N_PROGRAMS).sum(axis=0, dtype=np.int64)
        return total

    # ---- derived once per snapshot (a snapshot never changes) --------------------------------------

    @cached_property
    def n_embedded(self) -> int:
        return int(np.count_nonzero(self.has_vector))

    @cached_property
    def file_slots(self) -> dict[str, int]:
        return {p: i for i, p in enumerate(self.files)}

    @cached_property
    def hash_slots(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for i, h in enumerate(self.file_hashes):
            out.setdefault(h, []).append(i)
        return out

    def name_token_table(self, tokenize) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
        """(token -> id, file slot per entry, token id per entry) of every file name's distinct words
        (`tokenize(path)` -> set), built on the first call: a name search is then a few array operations."""
        table = self.__dict__.get("_name_tokens")
        if table is None:
            index: dict[str, int] = {}
            file_idx: list[int] = []
            token_idx: list[int] = []
            for slot, path in enumerate(self.files):
                for t in tokenize(path):
                    file_idx.append(slot)
                    token_idx.append(index.setdefault(t, len(index)))
            table = (index, np.array(file_idx, dtype=np.int64), np.array(token_idx, dtype=np.int64))
            self.__dict__["_name_tokens"] = table  # frozen dataclass: a cache beside the fields
        return table

    def word_codes(self, column: str, words) -> np.ndarray:
        """Codes of `words` (those present) in `column`'s vocabulary ("texture", "register"...)."""
        vocab = getattr(self, _VOCAB_OF[column])
        index = {w: i for i, w in enumerate(vocab)}
        return np.array(sorted({index[w] for w in words if w in index}), dtype=np.int64)

    def word_mask(self, column: str, words) -> np.ndarray:
        """(N,) bool: the window's `column` word is one of `words` (a compare or two over byte codes)."""
        wanted = self.word_codes(column, words)
        codes = getattr(self, _CODES_OF[column])
        if len(wanted) > 4:  # many words: one table look-up per window
            table = np.zeros(len(getattr(self, _VOCAB_OF[column])), dtype=bool)
            table[wanted] = True
            return table[codes]
        out = np.zeros(len(codes), dtype=bool)
        for c in wanted.tolist():
            out |= codes == c
        return out

    def vector_rows(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows), D) float32 rows of `vectors`. From a memory-mapped matrix a few rows are read with
        `os.pread` (runs of adjacent rows in one read) rather than through the map, so re-scoring a query's
        candidates maps no page of the matrix into the process (its RSS does not grow towards the file's size
        with every query); the page cache still keeps the rows read often."""
        rows = np.asarray(rows, dtype=np.int64)
        matrix = self.vectors
        path = getattr(matrix, "filename", None)
        if path is None or not len(rows) or len(rows) > PREAD_MAX_ROWS or not _is_sorted(rows):
            return np.asarray(matrix[rows], dtype=np.float32)
        fd = self._vector_fd(path)
        if fd is None:
            return np.asarray(matrix[rows], dtype=np.float32)
        dim = int(matrix.shape[1])
        row_bytes = dim * matrix.dtype.itemsize
        base = int(getattr(matrix, "offset", 0))
        out = np.empty((len(rows), dim), dtype=matrix.dtype)
        breaks = np.nonzero(np.diff(rows) != 1)[0] + 1
        for lo, hi in zip(np.concatenate(([0], breaks)).tolist(), np.concatenate((breaks, [len(rows)])).tolist()):
            data = os.pread(fd, (hi - lo) * row_bytes, base + int(rows[lo]) * row_bytes)
            if len(data) != (hi - lo) * row_bytes:  # a file cut short under us: read through the map instead
                return np.asarray(matrix[rows], dtype=np.float32)
            out[lo:hi] = np.frombuffer(data, dtype=matrix.dtype).reshape(hi - lo, dim)
        return out.astype(np.float32, copy=False)

    def _vector_fd(self, path) -> int | None:
        handle = self.__dict__.get("_vector_file")
        if handle is None:
            try:
                handle = open(path, "rb", buffering=0)  # closed with the snapshot (garbage collection)
            except OSError:
                return None
            self.__dict__["_vector_file"] = handle  # frozen dataclass: a cache beside the fields
        return handle.fileno()

    def instruments(self, i: int) -> tuple[str, ...]:
        flags = np.unpackbits(self.program_bits[i], count=N_PROGRAMS)
        return tuple(instrument_label(int(p)) for p in np.nonzero(flags)[0])

    def take(self, rows: np.ndarray) -> Snapshot:
        """The windows `rows` (ascending keeps the order of ties) as a snapshot of their own, files unchanged:
        ranking a few candidates of a large library costs what they cost, not what the library does."""
        rows = np.asarray(rows, dtype=np.int64)
        values = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "vectors" and value is not None:
                values[f.name] = self.vector_rows(rows)
            else:
                values[f.name] = value[rows] if isinstance(value, np.ndarray) else value
        return Snapshot(**values)


PREAD_MAX_ROWS = 4096  # more rows than this are gathered through the map (a scan, not a re-score)


def _is_sorted(rows: np.ndarray) -> bool:
    return bool(np.all(rows[1:] >= rows[:-1]))


_CODES_OF = {name: codes for codes, _vocab, name in WORD_COLUMNS}
_VOCAB_OF = {name: vocab for _codes, vocab, name in WORD_COLUMNS}


class Decoded(Sequence):
    """A word column read as strings (`snap.texture[i]`, iteration, `Counter(snap.key_names)`)."""

    def __init__(self, codes: np.ndarray, vocab: tuple[str, ...]):
        self.codes, self.vocab = codes, vocab

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def __getitem__(self, i):
        if isinstance(i, slice):
            return tuple(self.vocab[c] for c in self.codes[i].tolist())
        return self.vocab[int(self.codes[i])]

    def __iter__(self) -> Iterator[str]:
        vocab = self.vocab
        return (vocab[c] for c in self.codes.tolist())


def instrument_label(program: int) -> str:
    return "Drums" if program == DRUM_PROGRAM else program_name(program)


_WINDOW_COLUMNS = (
    "id, file_id, start_bar, end_bar, start_q, stop_q, start_s, end_s, tonic_pc, mode, key_confidence,"
    " key, tempo, tempo_word, meter, programs, texture, register, dynamics, pc_hist"
)
FETCH_ROWS = 65_536  # rows per fetchmany: Python row objects exist for one chunk at a time


def load_snapshot(conn: sqlite3.Connection, model: str | None) -> Snapshot:
    """Read the whole index; vectors only from `model` (None: no vectors). Rows are read in chunks straight into
    the column arrays, so a large library never holds all its rows as Python objects at once."""
    conn.execute("BEGIN")  # one read transaction = one consistent generation (WAL snapshot)
    try:
        gen = int(conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
        file_rows = conn.execute("SELECT id, path, hash FROM files ORDER BY id").fetchall()
        n = int(conn.execute("SELECT COUNT(*) FROM windows").fetchone()[0])
        cur = conn.execute(f"SELECT {_WINDOW_COLUMNS} FROM windows ORDER BY id")
        cols = _read_windows(cur, n, {fid: i for i, (fid, _p, _h) in enumerate(file_rows)})
        vectors, has_vector = _read_vectors(conn, model, cols["window_ids"])
    finally:
        conn.execute("COMMIT")
    return _assemble(gen, file_rows, cols, vectors, has_vector, model)


def _read_windows(cur, n: int, slot: dict[int, int]) -> dict:
    numeric = {
        "window_ids": (0, np.int64), "file_of": (1, np.int32), "start_bar": (2, np.int32), "end_bar": (3, np.int32),
        "start_q": (4, np.float64), "stop_q": (5, np.float64), "start_s": (6, np.float64), "end_s": (7, np.float64),
        "tonic_pc": (8, np.int8), "key_confidence": (10, np.float32), "tempo": (12, np.float32),
    }  # fmt: skip
    words = {"mode": 9, "key": 11, "tempo_word": 13, "meter": 14, "texture": 16, "register": 17, "dynamics": 18}
    out = {name: np.empty(n, dtype=dt) for name, (_c, dt) in numeric.items()}
    word_index: dict[str, dict[str, int]] = {w: {} for w in words}
    word_codes = {w: np.empty(n, dtype=np.int32) for w in words}
    bits = np.zeros((n, PROGRAM_BYTES), dtype=np.uint8)
    pc_hist = np.zeros((n, 12), dtype=np.float32)
    at = 0
    while True:
        rows = cur.fetchmany(FETCH_ROWS)
        if not rows:
            break
        m = len(rows)
        if at + m > n:
            raise RuntimeError("the windows table changed while it was read")
        cols = list(zip(*rows))
        for name, (c, _dt) in numeric.items():
            out[name][at : at + m] = cols[c]
        out["file_of"][at : at + m] = [slot[f] for f in cols[1]]
        for w, c in words.items():
            index = word_index[w]
            word_codes[w][at : at + m] = [index.setdefault(v, len(index)) for v in cols[c]]
        bits[at : at + m] = np.frombuffer(b"".join(cols[15]), dtype=np.uint8).reshape(m, -1)[:, :PROGRAM_BYTES]
        pc_hist[at : at + m] = np.frombuffer(b"".join(cols[19]), dtype=np.float32).reshape(m, 12)
        at += m
    if at != n:
        raise RuntimeError("the windows table changed while it was read")
    out["program_bits"], out["pc_hist"] = bits, pc_hist
    for w in words:  # renumber each vocabulary in sorted order (deterministic, whatever the row order)
        index = word_index[w]
        vocab = tuple(sorted(index))
        remap = np.zeros(max(len(index), 1), dtype=code_dtype(len(vocab)))
        for word, code in index.items():
            remap[code] = vocab.index(word)
        out[f"{w}_codes"], out[f"{w}_vocab"] = remap[word_codes[w]], vocab
    out["meter_codes"] = out["meter_codes"].astype(np.int16)  # `meter` indexes `meters` (int16 as before)
    return out


def _read_vectors(conn: sqlite3.Connection, model: str | None, window_ids: np.ndarray):
    cur = conn.execute("SELECT window_id, vec FROM vectors WHERE model = ? ORDER BY window_id", (model,))
    return _vectors_from_rows(iter(lambda: cur.fetchmany(FETCH_ROWS), []), window_ids)


def _vectors_from_rows(chunks, window_ids: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """Fill an (N, D) float32 matrix from chunks of (window id, vec bytes) rows sorted by window id."""
    n = len(window_ids)
    has_vector = np.zeros(n, dtype=bool)
    vectors = None
    for rows in chunks:
        if not rows:
            continue
        if vectors is None:
            dim = len(rows[0][1]) // 4
            vectors = np.zeros((n, dim), dtype=np.float32)
        ok = [(wid, b) for wid, b in rows if len(b) == dim * 4]
        if not ok:
            continue
        ids = np.fromiter((wid for wid, _b in ok), dtype=np.int64, count=len(ok))
        at = np.searchsorted(window_ids, ids)  # both sorted by window id
        found = (at < n) & (window_ids[np.minimum(at, n - 1)] == ids)
        block = np.frombuffer(b"".join(b for _wid, b in ok), dtype=np.float32).reshape(len(ok), dim)
        vectors[at[found]] = block[found]
        has_vector[at[found]] = True
    return vectors, has_vector


def _assemble(gen, file_rows, cols: dict, vectors, has_vector, model) -> Snapshot:
    meters = cols["meter_vocab"]
    mode_of = np.array([MODE_CODES.get(m, 2) for m in cols["mode_vocab"]] or [2], dtype=np.int8)
    return Snapshot(
        generation=gen,
        files=tuple(p for _f, p, _h in file_rows),
        file_hashes=tuple(h for _f, _p, h in file_rows),
        file_of=cols["file_of"],
        window_ids=cols["window_ids"],
        start_bar=cols["start_bar"],
        end_bar=cols["end_bar"],
        start_q=cols["start_q"],
        stop_q=cols["stop_q"],
        start_s=cols["start_s"],
        end_s=cols["end_s"],
        tonic_pc=cols["tonic_pc"],
        mode=mode_of[cols["mode_codes"]],
        key_confidence=cols["key_confidence"],
        key_code=cols["key_codes"],
        key_vocab=cols["key_vocab"],
        tempo=cols["tempo"],
        tempo_word_code=cols["tempo_word_codes"],
        tempo_word_vocab=cols["tempo_word_vocab"],
        meter=cols["meter_codes"],
        meters=meters,
        program_bits=cols["program_bits"],
        texture_code=cols["texture_codes"],
        texture_vocab=cols["texture_vocab"],
        register_code=cols["register_codes"],
        register_vocab=cols["register_vocab"],
        dynamics_code=cols["dynamics_codes"],
        dynamics_vocab=cols["dynamics_vocab"],
        pc_hist=cols["pc_hist"],
        vectors=vectors,
        has_vector=has_vector,
        model=model if vectors is not None else None,
    )
