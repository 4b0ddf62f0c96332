"""Approximate search for large libraries: a faiss HNSW graph over the snapshot's *distinct* vectors.

Below `min_windows()` embedded windows (default ANN_MIN_WINDOWS, env MIDIBRIDGE_ANN_MIN_WINDOWS) search
stays exact (one mat-vec, `library._cosine`). Above it a text query asks the graph for candidates and
scores them exactly, so the order among candidates is the exact one:

- **Duplicates.** A library holds the same clip in several packs, loops whose windows are all alike, and
  copies that differ only by rounding: identical vectors are the known failure mode of graph indexes
  (cliques of equal points starve the neighbour lists). Vectors are grouped by a 128-bit hash of their
  int8 quantisation (`dedup`); the graph holds one vector per group and `group_rows` maps each group back
  to every window it stands for. A hit expands to all its windows, re-scored with their own float vectors.
- **Filters and constraint tiers.** Results are ranked tier by tier (windows satisfying more of what the
  text states first, see `ranking.rank`). A tier (hard filters applied) of at most PREFILTER_MAX windows is
  scored exactly; a larger one over-fetches from the graph by its inverse selectivity, keeps the windows in
  the tier, and fetches 4x more until enough non-overlapping hits are found, ending in an exact scan of the
  tier: a filter never loses a hit because the graph's neighbours lay outside it.
- **Why faiss** (docs/library.md "Approximate search"): on duplicate-heavy vectors hnswlib, usearch and
  faiss HNSW measured alike (recall 0.99-1.0, ~0.1 ms p50 at 100k); usearch builds twice as fast but its
  extension segfaults when imported before onnxruntime, hnswlib has had no release since 2023, and faiss
  (maintained, int8 scalar-quantised storage: 384 B a vector instead of 1,536) has neither problem.

The graph is built from a snapshot (one consistent generation) and saved beside the snapshot cache under the
same name, so it can never stand for another generation; a missing or damaged file means a rebuild.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bridge.library import ranking
from bridge.library.code_dot import code_dot
from bridge.library.snapshot import Snapshot

log = logging.getLogger(__name__)

BACKEND = "faiss"
ANN_MIN_WINDOWS = 50_000  # embedded windows from which search is approximate
ENV_MIN_WINDOWS = "MIDIBRIDGE_ANN_MIN_WINDOWS"
PREFILTER_MAX = 20_000  # a tier of at most this many windows is scored exactly (~2 ms)
MAX_FETCH = 8_192  # groups asked of the graph at most for one tier; past that the tier is scanned exactly
MAX_CHECKS = 12  # checks stated in one query beyond which search is exact (2**12 patterns)
LAZY_PATTERN_CHECKS = 8  # up to this many checks, patterns are tested as they are visited (not counted first)
LAZY_EMPTY_MAX = 16  # empty patterns tested before the rest are counted in one pass
BATCH_MIN_WINDOWS = 65_536  # from this size, small consecutive patterns are scanned together:
SAMPLE_STEP = 16  # their sizes estimated from every 16th window,
BATCH_ROWS = 2048  # up to this many windows (estimated)
BATCH_PATTERNS = 8  # and this many patterns in one scan
# A large tier asks the graph for its nearest only while that costs less than scoring the whole tier on the
# 8-bit codes (measured at 1M windows, 1 thread: a graph search for F groups ~F * (1 + F / 3000) us, 1,024 groups
# 1.0 ms, 6,144 groups 19.6 ms; the codes ~0.1 us a window, 40k windows ~4 ms). A tier of 4 % of 1M windows
# whose first fetch is not enough used to fetch 4x more and then scan anyway (37 ms); it now scans (~6 ms).
FETCH_US_PER_GROUP = 1.0
FETCH_QUADRATIC_GROUPS = 3000.0
SCAN_US_PER_ROW = 0.10  # through code_dot (onnxruntime's integer matmul); numpy's einsum was 0.22
FETCH_PER_HIT = 8  # a large tier's first fetch: this many of its windows expected per hit still needed
FETCH_GROWTH = 4  # and the next fetch this many times larger
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 128
# Graph storage: 8-bit scalar quantisation (faiss QT_8bit); candidates are re-scored with the float32 vectors.
QUANT_SCALE = 127.0  # duplicates: equal int8 codes of the L2-normalised vector (cosine >= ~0.997 apart)
GRAPH_SUFFIX = ".ann.faiss"
GROUPS_SUFFIX = ".ann.npz"


def min_windows() -> int:
    """The size switch: ANN_MIN_WINDOWS, or the environment's MIDIBRIDGE_ANN_MIN_WINDOWS (0: always; anything
    but a whole number >= 0 is named in one warning and the default is used)."""
    text = os.environ.get(ENV_MIN_WINDOWS, "").strip()
    if not text:
        return ANN_MIN_WINDOWS
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:  # a search must not fail over an environment variable: one warning, then the default
        if text not in _WARNED:
            _WARNED.add(text)
            log.warning(
                "%s must be a whole number of windows >= 0, got %r: using %d", ENV_MIN_WINDOWS, text, ANN_MIN_WINDOWS
            )
        return ANN_MIN_WINDOWS
    return value


_WARNED: set[str] = set()


def wanted(snap: Snapshot) -> bool:
    """Whether `snap` is searched approximately: enough embedded windows (and faiss installed)."""
    return snap.vectors is not None and _embedded(snap) >= max(min_windows(), 1) and available()


def _embedded(snap) -> int:
    """Embedded windows (the snapshot counts them once; the bench's bare vector holders have no count)."""
    count = getattr(snap, "n_embedded", None)
    return int(count) if count is not None else int(np.count_nonzero(snap.has_vector))


def describe_unique(unique: int) -> str:
    return f"approximate ({BACKEND}, {unique} unique vectors)"


def available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class Groups:
    """Distinct vectors of a snapshot: `rep[g]` is group g's first window, `rows[start[g]:start[g+1]]` all of
    its windows (ascending); `of[i]` is window i's group (-1: no vector)."""

    of: np.ndarray  # (N,) int64
    rep: np.ndarray  # (U,) int64
    start: np.ndarray  # (U + 1,) int64
    rows: np.ndarray  # (n embedded,) int64

    def __len__(self) -> int:
        return int(self.rep.shape[0])

    def expand(self, groups: np.ndarray) -> np.ndarray:
        """Every window of `groups` (any order)."""
        groups = np.asarray(groups, dtype=np.int64)
        lo, hi = self.start[groups], self.start[groups + 1]
        total = int((hi - lo).sum())
        if total == 0:
            return np.zeros(0, dtype=np.int64)
        # Offsets of a concatenation of ranges without a Python loop.
        counts = hi - lo
        first = np.repeat(lo - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
        return self.rows[first + np.arange(total)]


def dedup(vectors: np.ndarray, has_vector: np.ndarray, chunk: int = 65_536) -> Groups:
    """Group the embedded rows of `vectors` by their int8 code (128-bit hash of it; equal codes, one group)."""
    rows = np.nonzero(has_vector)[0].astype(np.int64)
    dim = vectors.shape[1]
    words = (dim + 7) // 8
    rng = np.random.default_rng(0x5EED)
    mult = rng.integers(1, 2**63, size=(2, words), dtype=np.uint64) | np.uint64(1)
    hashes = np.empty((len(rows), 2), dtype=np.uint64)
    for lo in range(0, len(rows), chunk):
        block = vectors[rows[lo : lo + chunk]]
        code = np.clip(np.rint(block * QUANT_SCALE), -127, 127).astype(np.int8)
        if dim % 8:
            code = np.pad(code, ((0, 0), (0, words * 8 - dim)))
        w = np.ascontiguousarray(code).view(np.uint64)
        with np.errstate(over="ignore"):
            hashes[lo : lo + chunk, 0] = (w * mult[0]).sum(axis=1)
            hashes[lo : lo + chunk, 1] = (w * mult[1]).sum(axis=1)
    keys = hashes.view(np.dtype((np.void, 16))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    # Number groups by their first window, so the group order follows the snapshot (deterministic).
    order = np.argsort(first, kind="stable")
    renumber = np.empty_like(order)
    renumber[order] = np.arange(len(order))
    group = renumber[inverse.ravel()]
    of = np.full(len(has_vector), -1, dtype=np.int64)
    of[rows] = group
    by_group = np.argsort(group, kind="stable")
    start = np.concatenate(([0], np.cumsum(np.bincount(group, minlength=len(order))))).astype(np.int64)
    return Groups(of=of, rep=rows[first[order]], start=start, rows=rows[by_group])


class VectorIndex:
    """The graph of one snapshot generation plus its groups. Searches may run from several threads."""

    def __init__(self, graph, groups: Groups, generation: int, n_rows: int):
        self.graph = graph
        self.groups = groups
        self.generation = generation
        self.n_rows = n_rows
        self._sq = _sq8_view(graph)  # the graph's own int8 codes: candidates are scored on them

    def __len__(self) -> int:
        return len(self.groups)

    def describe(self) -> str:
        return describe_unique(len(self))

    def nearest_groups(self, q: np.ndarray, count: int) -> np.ndarray:
        import faiss

        count = max(1, min(int(count), len(self)))
        params = faiss.SearchParametersHNSW(efSearch=max(EXPANSION_SEARCH, count))
        _d, keys = self.graph.search(np.asarray(q, dtype=np.float32).reshape(1, -1), count, params=params)
        keys = keys[0]
        return keys[keys >= 0].astype(np.int64)

    def group_scores(self, q: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
        """Approximate cosines of `groups` from the graph's 8-bit codes (what the graph itself compares):
        x = vmin + (code + 0.5) / 255 * vdiff per dimension, so x.q = code.w + b. The codes are in memory
        anyway (the graph's storage), so scoring many candidates touches no float32 vector. `groups` None: all."""
        codes, vmin, vdiff = self._sq
        w = (vdiff * q / 255.0).astype(np.float32)
        b = np.float32(vmin @ q + 0.5 * w.sum())
        return code_dot(codes, groups, w) + b

    def row_scores(self, snap: Snapshot, q: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Approximate cosines of windows `rows` (-1 without a vector); float32 rows where there are no codes."""
        if self._sq is None:
            return _cosine_rows(snap, q, rows)
        g = self.groups.of[rows]
        out = np.full(len(rows), -1.0, dtype=np.float32)
        ok = g >= 0
        out[ok] = self.group_scores(q, g[ok])
        return out

    def scan(self, snap: Snapshot, q: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`rows` with their approximate cosines, scored through their groups (a large set: every group once)."""
        if self._sq is not None and len(rows) > len(self):
            per_group = self.group_scores(q, None)  # every group
            g = self.groups.of[rows]
            return rows, np.where(g >= 0, per_group[np.maximum(g, 0)], -1.0).astype(np.float32)
        if self._sq is None:
            return _exact(snap, q, rows)
        return rows, self.row_scores(snap, q, rows)

    # ---- ranking --------------------------------------------------------------------------------

    def candidates(
        self, snap: Snapshot, q: np.ndarray, mask: np.ndarray, checks: list[tuple[str, np.ndarray]], k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(rows ascending, their exact cosines): the best `k` non-overlapping windows by `ranking.fold_score`
        (hard constraint tiers, preference bonuses, cosine), so that ranking these rows alone (`ranking.rank`
        on `snap.take(rows)`) returns what exact search returns, up to the graph's recall.

        Tier by tier (hard constraints; best first), each tier's best are found by scoring all of a small tier or
        the graph's nearest in a large one, fetching more until no window left unscored can beat the k-th hit:
        its key is bounded by `fold_score` at the lowest cosine fetched with every preference met. Candidates
        are scored on the graph's 8-bit codes (`group_scores`), with a margin (APPROX_SLACK) wherever a bound is
        compared, and the few kept at the end are re-scored with their float32 vectors (`_Search.result`)."""
        q = np.asarray(q, dtype=np.float32)
        if k <= 0 or not mask.any():
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        # In cosine units. (A per-query bound from the codes' steps, sum |q_i| vdiff_i / 510 + 0.003 ~ 0.015, was
        # measured and dropped: it missed one hit in 2,000 at 1M windows, bench/search.py's distinct queries.)
        slack = APPROX_SLACK if self._sq is not None else 0.0
        full = bool(mask.all())
        if len(checks) > MAX_CHECKS:  # more stated constraints than patterns worth enumerating: exact
            rows = np.nonzero(mask)[0]
            search = _Search(snap, q, checks, k, slack * _key_slope(checks))
            search.add(*self.scan(snap, q, rows))
            return search.result()
        # A window's key depends only on its cosine and which checks it meets (its pattern): within a pattern
        # the order is the cosine's. Patterns are visited by the best key they could reach.
        code = _pattern_codes(checks, len(snap))
        if len(checks) <= LAZY_PATTERN_CHECKS:  # test the patterns visited (~0.05 ms each at 1M) instead of
            present = _possible_patterns(checks, None if full else mask)  # counting every pattern (~1.2 ms)
        else:
            present = np.nonzero(np.bincount(code if full else code[mask], minlength=1 << len(checks)))[0]
        bounds = pattern_bounds(checks, present)  # {pattern: (key at cosine -1, key at cosine 1)}: linear between
        # The margin in key units: a cosine error e moves a key by at most e times the steepest pattern's slope.
        search = _Search(snap, q, checks, k, slack * max((b - a) / 2.0 for a, b in bounds.values()))
        search.cos_slack = slack
        embedded = _embedded(snap)
        # No window scores above the graph's nearest (its recall aside), plus the margin: the ceiling a
        # pattern's best key is bounded at, much tighter than cosine 1 (a text query's best is ~0.6).
        _rows, near_cos = search.nearest(self, max(8 * k, 64))
        ceiling = min(1.0, float(near_cos.max()) + CEILING_SLACK) if len(near_cos) else 1.0
        order = sorted(bounds, key=lambda g: -bounds[g][1])
        # Tier sizes estimated from every SAMPLE_STEP-th window (~0.1 ms at 1M): consecutive small patterns are
        # then scanned together, one pass over the codes and one scan instead of one per pattern (~0.3 ms each).
        est = None
        if checks and len(snap) >= BATCH_MIN_WINDOWS:
            sub = code[::SAMPLE_STEP] if full else code[::SAMPLE_STEP][mask[::SAMPLE_STEP]]
            est = np.bincount(sub, minlength=1 << len(checks)) * SAMPLE_STEP
        empty = 0  # patterns tested and found empty: past LAZY_EMPTY_MAX, count the rest at once
        counts = None
        i = 0
        while i < len(order):
            g = order[i]
            i += 1
            bound = _linear(*bounds[g])
            if search.kth > -np.inf and bound(ceiling) <= search.kth - search.slack:
                break  # nothing in this pattern (or the ones after it) can beat the hits found
            if counts is not None and not counts[g]:
                continue
            if not checks:
                tier = mask
                batch = [g]
            else:
                batch = [g]
                if est is not None and est[g] <= BATCH_ROWS:
                    total = int(est[g])
                    while i < len(order) and len(batch) < BATCH_PATTERNS:
                        nxt = order[i]
                        if search.kth > -np.inf and _linear(*bounds[nxt])(ceiling) <= search.kth - search.slack:
                            break
                        if total + int(est[nxt]) > BATCH_ROWS:
                            break
                        batch.append(nxt)
                        total += int(est[nxt])
                        i += 1
                tier = code == g
                for other in batch[1:]:
                    tier |= code == other
                if not full:
                    tier &= mask
            n_tier = int(np.count_nonzero(tier))
            if not n_tier:
                empty += len(batch)
                if est is None and counts is None and empty >= LAZY_EMPTY_MAX:
                    counts = np.bincount(code if full else code[mask], minlength=1 << len(checks))
                continue
            if len(batch) > 1:
                if n_tier <= PREFILTER_MAX:  # every window of these patterns, scored at once (exact as one by one)
                    search.add(*self.scan(snap, search.q, np.nonzero(tier)[0]))
                    continue
                i -= len(batch) - 1  # the estimate was far off: these patterns one by one
                batch = [g]
                tier = code == g
                if not full:
                    tier &= mask
                n_tier = int(np.count_nonzero(tier))
                if not n_tier:
                    continue
            self._tier_best(search, tier, n_tier, bound, embedded)
        return search.result()

    def _tier_best(self, search: _Search, tier: np.ndarray, n_tier: int, bound, embedded: int) -> None:
        """Add `tier`'s best to `search`: all of a small tier, else the graph's nearest in it until the rest of
        the tier cannot beat the k-th hit, else (the graph gives too few in it) a scan of the whole tier."""
        snap, q = search.snap, search.q
        if n_tier > PREFILTER_MAX:
            need = search.k - len(search.picks)
            selectivity = max(n_tier / max(embedded, 1), 1e-9)
            fetch = int(np.ceil(max(FETCH_PER_HIT * need, 64) / selectivity))
            while fetch <= min(MAX_FETCH, len(self) // 4):
                if search.fetch_cost_us(fetch) > SCAN_US_PER_ROW * n_tier:
                    break  # the graph's answer would cost more than scoring the whole tier on the codes
                fetched, cos = search.nearest(self, fetch)
                floor = float(cos.min()) if len(cos) else 1.0  # what the graph left out scores at most this
                inside = tier[fetched]
                trial = search.copy()
                trial.add(fetched[inside], cos[inside])
                if trial.kth > -np.inf and bound(min(floor + search.cos_slack, 1.0)) <= trial.kth - search.slack:
                    search.adopt(trial)
                    return
                fetch *= FETCH_GROWTH
        search.add(*self.scan(snap, q, np.nonzero(tier)[0]))


# Approximate cosines (8-bit codes, one per group of duplicates) differ from the float32 ones by ~1e-3 (max
# measured 3.4e-3): every bound is compared with this margin, and every row within it of the k-th hit is re-scored.
# Three times the worst code error. 0.02 gave recall@10 1.0 at 1M windows but made a large tier's graph fetch fail
# and fall back to a scan (both paid); 0.01 keeps 0.9995 (the 2 misses in 4,000: near-copies 2e-5 below a hit
# found, the graph's recall) for p99 8.0 -> 6.3 ms (bench/search.py distinct queries, docs/library.md).
APPROX_SLACK = 0.01
# How far above the graph's nearest cosine a window the graph missed may score and still count: patterns whose
# best key at that ceiling cannot beat the k-th hit are not visited. The graph's recall (bench/search.py:
# recall@10 >= 0.996 vector-level, 1.0 on the hit lists) is what this bound rests on.
CEILING_SLACK = 0.05


def _sq8_view(graph):
    """(codes (U, D) uint8, vmin, vdiff) of an 8-bit scalar-quantised faiss index's storage, without a copy
    (the view lives as long as `graph`); None for any other kind of index."""
    try:
        import faiss

        storage = faiss.downcast_index(graph.storage)
        if not isinstance(storage, faiss.IndexScalarQuantizer) or storage.sq.qtype != faiss.ScalarQuantizer.QT_8bit:
            return None
        n, size, d = int(storage.ntotal), int(storage.code_size), int(storage.d)
        if size != d or n == 0:
            return None
        codes = faiss.rev_swig_ptr(storage.codes.data(), n * size).reshape(n, size)
        trained = faiss.vector_to_array(storage.sq.trained).astype(np.float32)
        return codes, trained[:d].copy(), trained[d:].copy()
    except Exception as e:  # another faiss layout: score candidates on the float32 vectors instead
        log.info("approximate index: no 8-bit codes to score on (%s)", e)
        return None


def _pattern_codes(checks: list[tuple[str, np.ndarray]], n: int) -> np.ndarray:
    """(N,) one bit per check: the pattern of checks each window meets."""
    code = np.zeros(n, dtype=np.uint8 if len(checks) <= 8 else np.uint16)
    tmp = np.empty(n, dtype=code.dtype)
    for i, (_label, ok) in enumerate(checks):
        # Multiply and add, not shift and or: numpy's uint8 shifts have no SIMD loop (measured 1.6 vs 0.2 ms
        # for six checks at 1M windows); the bits are disjoint, so the sum is the or.
        np.multiply(np.asarray(ok, dtype=bool).view(np.uint8), code.dtype.type(1 << i), out=tmp)
        np.add(code, tmp, out=code)
    return code


def _possible_patterns(checks: list[tuple[str, np.ndarray]], mask: np.ndarray | None) -> np.ndarray:
    """Every pattern of `checks` some window (within `mask`) could have: a check no window meets, or every one
    meets, fixes its bit. A text that states a meter the hard filter excludes ("... in 2/4" with --meter 3/4)
    otherwise leaves half of the patterns to be visited and found empty, one pass over the library each."""
    if not checks:
        return np.zeros(1, dtype=np.int64)
    never = always = 0
    total = len(checks[0][1]) if mask is None else int(np.count_nonzero(mask))
    for i, (_label, ok) in enumerate(checks):
        ok = np.asarray(ok, dtype=bool)
        n = int(np.count_nonzero(ok if mask is None else ok & mask))
        if n == 0:
            never |= 1 << i
        elif n == total:
            always |= 1 << i
    patterns = np.arange(1 << len(checks))
    return patterns[((patterns & never) == 0) & ((patterns & always) == always)]


def pattern_bounds(checks: list[tuple[str, np.ndarray]], patterns: np.ndarray) -> dict[int, tuple[float, float]]:
    """{pattern: (key at cosine -1, key at cosine 1)} of a window meeting exactly the checks whose bits are set:
    `ranking.fold_score` is linear in the clipped cosine, so these two numbers give its key at any cosine. One
    vectorised `fold_score` per end for every pattern at once."""
    patterns = np.asarray(patterns, dtype=np.int64)
    if not checks:
        patterns = np.zeros(1, dtype=np.int64)
    bits = [(label, (patterns >> i) & 1 == 1) for i, (label, _ok) in enumerate(checks)]
    lo = ranking.fold_score(np.full(len(patterns), -1.0), bits)
    hi = ranking.fold_score(np.full(len(patterns), 1.0), bits)
    return {int(p): (float(a), float(b)) for p, a, b in zip(patterns, lo, hi)}


def _key_slope(checks: list[tuple[str, np.ndarray]]) -> float:
    """d key / d cosine (the same for every pattern of one query's checks)."""
    a, b = next(iter(pattern_bounds(checks, np.zeros(1, dtype=np.int64)).values()))
    return (b - a) / 2.0


def _linear(at_minus_one: float, at_one: float):
    slope = (at_one - at_minus_one) / 2.0
    return lambda c: at_minus_one + slope * (min(max(c, -1.0), 1.0) + 1.0)


class _Search:
    """The best windows found so far, by `ranking.fold_score` (ties by row, as exact ranking breaks them).
    Cosines are approximate where `slack` (in key units) > 0: rows within it of the k-th hit are kept for the
    exact re-score; `cos_slack` is the same margin in cosine units."""

    def __init__(self, snap: Snapshot, q: np.ndarray, checks, k: int, slack: float = 0.0):
        self.snap, self.q, self.checks, self.k, self.slack = snap, q, checks, k, slack
        self.cos_slack = 0.0
        self._nearest: tuple[int, np.ndarray, np.ndarray] | None = None  # (count, rows, cosines) from the graph
        self.rows = np.zeros(0, dtype=np.int64)  # best first, cut to what the hits need
        self.cos = np.zeros(0, dtype=np.float32)
        self.key = np.zeros(0, dtype=np.float64)
        self.picks: list[int] = []
        self.kth = -np.inf  # the key of the k-th hit, once there are k

    def copy(self) -> _Search:
        other = _Search(self.snap, self.q, self.checks, self.k, self.slack)
        other.cos_slack = self.cos_slack
        other.adopt(self)
        other._nearest = self._nearest
        return other

    def nearest(self, index: VectorIndex, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Every window of the graph's `count` nearest groups and their cosines (one graph search per
        query serves every pattern that asks for no more)."""
        if self._nearest is None or self._nearest[0] < count:
            rows = index.groups.expand(index.nearest_groups(self.q, count))
            self._nearest = (count, rows, index.row_scores(self.snap, self.q, rows))
        return self._nearest[1], self._nearest[2]

    def fetch_cost_us(self, count: int) -> float:
        """Estimated cost of `nearest(count)`: nothing when an earlier graph search already covers it."""
        if self._nearest is not None and self._nearest[0] >= count:
            return 0.0
        return FETCH_US_PER_GROUP * count * (1.0 + count / FETCH_QUADRATIC_GROUPS)

    def adopt(self, other: _Search) -> None:
        self.rows, self.cos, self.key, self.picks, self.kth = other.rows, other.cos, other.key, other.picks, other.kth

    def keys(self, rows: np.ndarray, cos: np.ndarray) -> np.ndarray:
        return np.asarray(ranking.fold_score(cos, [(label, ok[rows]) for label, ok in self.checks]), dtype=np.float64)

    def add(self, rows: np.ndarray, cos: np.ndarray) -> None:
        key = self.keys(rows, cos)
        rows = np.concatenate([self.rows, rows])
        cos = np.concatenate([self.cos, cos])
        key = np.concatenate([self.key, key])
        m = max(8 * self.k, 64)
        if len(rows) > m:  # only the best few can be hits: cut, but keep every row tied with the m-th
            mth = np.partition(key, len(key) - m)[len(key) - m]
            top = key >= mth
            order = np.lexsort((rows[top], -key[top]))
            cut = np.nonzero(top)[0][order]
            picks = ranking._collapse_overlaps(self.snap, rows[cut], self.k)
            if len(picks) >= self.k:
                kth = float(key[cut][np.nonzero(rows[cut] == picks[-1])[0][0]])
                if self.slack and kth - self.slack < mth:  # approximate keys: keep all that may beat the k-th
                    top = key >= kth - self.slack
                    order = np.lexsort((rows[top], -key[top]))
                    cut = np.nonzero(top)[0][order]  # the same picks: the rows added rank below them all
                self._set(rows[cut], cos[cut], key[cut], picks)
                return
        order = np.lexsort((rows, -key))
        self._set(rows[order], cos[order], key[order], ranking._collapse_overlaps(self.snap, rows[order], self.k))

    def _set(self, rows, cos, key, picks) -> None:
        self.rows, self.cos, self.key, self.picks = rows, cos, key, picks
        if len(picks) >= self.k:
            self.kth = float(key[np.nonzero(rows == picks[-1])[0][0]])

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """The hits' rows (ascending) and exact cosines. With approximate cosines, every kept row whose key is
        within `slack` of the k-th hit is re-scored with its float32 vector and the hits are picked again."""
        rows, cos, picks = self.rows, self.cos, self.picks
        if self.slack and len(rows):
            near = self.key >= (self.kth if self.kth > -np.inf else -np.inf) - self.slack
            rows = rows[near]
            cos = _cosine_rows(self.snap, self.q, rows)  # a few hundred rows of the memory-mapped matrix at most
            key = self.keys(rows, cos)
            order = np.lexsort((rows, -key))
            rows, cos = rows[order], cos[order]
            picks = ranking._collapse_overlaps(self.snap, rows, self.k)
        cos_of = dict(zip(rows.tolist(), cos.tolist()))
        out = np.sort(np.asarray(picks, dtype=np.int64))
        return out, np.array([cos_of[int(r)] for r in out], dtype=np.float32)


def _cosine_rows(snap: Snapshot, q: np.ndarray, rows: np.ndarray) -> np.ndarray:
    s = np.zeros(len(rows), dtype=np.float32)
    if len(rows):  # gathered in ascending order (sequential pages of the memory map), returned in `rows`' order
        order = np.argsort(rows, kind="stable")
        rows_of = getattr(snap, "vector_rows", None)  # a Snapshot reads a few rows without mapping them
        block = rows_of(rows[order]) if rows_of is not None else snap.vectors[rows[order]]
        s[order] = np.einsum("ij,j->i", block, q)
    return np.where(snap.has_vector[rows], s, -1.0).astype(np.float32)


def _exact(snap: Snapshot, q: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(rows) > len(snap) // 2:  # a large tier: one pass over the matrix beats gathering its rows
        s = np.einsum("ij,j->i", snap.vectors, q)[rows]
        return rows, np.where(snap.has_vector[rows], s, -1.0).astype(np.float32)
    return rows, _cosine_rows(snap, q, rows)


# ---- build, save, load ------------------------------------------------------------------------------


def build(snap: Snapshot, threads: int = 0, progress: Callable[[int, int], None] | None = None) -> VectorIndex:
    """The graph of `snap`'s distinct vectors (`threads` 0: every core); `progress(done, total)` per batch."""
    import faiss

    groups = dedup(snap.vectors, snap.has_vector)
    dim = snap.vectors.shape[1]
    graph = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, CONNECTIVITY, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = EXPANSION_ADD
    sample = groups.rep[:: max(1, len(groups) // 100_000)]
    graph.train(np.ascontiguousarray(snap.vectors[sample]))
    with _omp_threads(threads or os.cpu_count() or 1):
        step = 65_536  # group ids are faiss's sequential ids: added in group order
        for lo in range(0, len(groups), step):
            graph.add(np.ascontiguousarray(snap.vectors[groups.rep[lo : lo + step]]))
            if progress is not None:
                progress(min(lo + step, len(groups)), len(groups))
    return VectorIndex(graph, groups, snap.generation, len(snap))


_OMP_LOCK = threading.Lock()


class _omp_threads:
    """faiss's OpenMP thread count for a build; searches run one query on the calling thread (1)."""

    def __init__(self, n: int):
        self.n = n

    def __enter__(self):
        import faiss

        _OMP_LOCK.acquire()
        faiss.omp_set_num_threads(max(1, self.n))

    def __exit__(self, *exc):
        import faiss

        faiss.omp_set_num_threads(1)
        _OMP_LOCK.release()


def save(index: VectorIndex, prefix: Path) -> None:
    """`<prefix>.ann.faiss` and `<prefix>.ann.npz`, each written under a temporary name and renamed;
    the groups file goes last, so one present means its graph is complete."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    graph_path, groups_path = _paths(prefix)
    tmp = graph_path.with_name(f".{graph_path.name}.{secrets.token_hex(6)}.tmp")
    try:
        import faiss

        faiss.write_index(index.graph, str(tmp))
        os.replace(tmp, graph_path)
    finally:
        tmp.unlink(missing_ok=True)
    g = index.groups
    arrays = {
        "of": g.of,
        "rep": g.rep,
        "start": g.start,
        "rows": g.rows,
        "generation": np.array(index.generation),
        "n_rows": np.array(index.n_rows),
    }
    from bridge.music.midi_file import write_file_atomic

    write_file_atomic(groups_path, lambda f: np.savez(f, **arrays))


def load(prefix: Path, snap: Snapshot) -> VectorIndex | None:
    """The saved graph of `snap`'s generation, or None (missing, damaged, another generation)."""
    graph_path, groups_path = _paths(prefix)
    if not groups_path.is_file() or not graph_path.is_file():
        return None
    try:
        import faiss

        with np.load(groups_path, allow_pickle=False) as data:
            if int(data["generation"]) != snap.generation or int(data["n_rows"]) != len(snap):
                return None
            groups = Groups(of=data["of"], rep=data["rep"], start=data["start"], rows=data["rows"])
        graph = _read_graph(faiss, graph_path)
        if graph.ntotal != len(groups) or graph.d != snap.vectors.shape[1]:
            return None
        return VectorIndex(graph, groups, snap.generation, len(snap))
    except Exception as e:  # damaged, truncated, another layout: rebuild
        log.info("ignoring approximate index %s: %s", graph_path.name, e)
        return None


def _read_graph(faiss, path: Path):
    """The saved graph, its vector codes memory-mapped (faiss IO_FLAG_MMAP_IFC: a cold start reads ~0.1 GB of
    links instead of the whole file, the codes page in as searches touch them); a plain read where unsupported."""
    flag = getattr(faiss, "IO_FLAG_MMAP_IFC", None)
    if flag is not None:
        try:
            return faiss.read_index(str(path), flag)
        except Exception as e:  # an older faiss, a file system without mmap
            log.info("approximate index: cannot map %s (%s), reading it", path.name, e)
    return faiss.read_index(str(path))


def saved_unique(prefix: Path) -> int | None:
    """The number of distinct vectors in the saved index at `prefix` (None: none saved)."""
    try:
        with np.load(_paths(prefix)[1], allow_pickle=False) as data:
            return int(data["rep"].shape[0])
    except (OSError, ValueError, KeyError):
        return None


def _paths(prefix: Path) -> tuple[Path, Path]:
    return prefix.with_name(prefix.name + GRAPH_SUFFIX), prefix.with_name(prefix.name + GROUPS_SUFFIX)


# ---- one library's current index ---------------------------------------------------------------------


class Holder:
    """The current generation's VectorIndex of one `Library`: loaded from its file, built now, or built in a
    background thread while searches stay exact (`build`: "now", "background" or "never": saved files only)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: VectorIndex | None = None
        self._building: int | None = None  # the generation a background thread is building

    def ready(self, snap: Snapshot) -> VectorIndex | None:
        """The index of `snap` if it is in memory (no file, no build)."""
        current = self._current
        if current is not None and current.generation == snap.generation and current.n_rows == len(snap):
            return current
        return None

    def get(
        self,
        snap: Snapshot,
        prefix: Path | None,
        build: str,
        save: Callable[[VectorIndex, Path], None],
        progress: Callable[[int, int], None] | None = None,
    ):
        if self.ready(snap) is not None:
            return self._current
        if not wanted(snap):
            return None
        with self._lock:
            current = self._current
            if current is not None and current.generation == snap.generation and current.n_rows == len(snap):
                return current
            loaded = load(prefix, snap) if prefix is not None else None
            if loaded is not None:
                self._current = loaded
                return loaded
            if build == "now":
                self._current = self._build(snap, prefix, save, threads=0, progress=progress)
                return self._current
            if build == "background" and self._building != snap.generation:
                self._building = snap.generation
                threading.Thread(
                    target=self._background, args=(snap, prefix, save), daemon=True, name="midibridge-ann-build"
                ).start()
        return None

    def _background(self, snap: Snapshot, prefix: Path | None, save) -> None:
        try:
            index = self._build(snap, prefix, save, threads=max(1, (os.cpu_count() or 2) - 1))
        except Exception as e:  # out of memory, a broken install: searches stay exact
            log.warning("cannot build the approximate index: %s", e)
            return
        finally:
            with self._lock:
                self._building = None
        with self._lock:
            if self._current is None or self._current.generation <= snap.generation:
                self._current = index

    @staticmethod
    def _build(snap: Snapshot, prefix: Path | None, save, threads: int, progress=None) -> VectorIndex:
        t = time.perf_counter()
        index = build(snap, threads=threads, progress=progress)
        log.info(
            "approximate index: %d windows, %d unique vectors, built in %.1f s",
            _embedded(snap),
            len(index),
            time.perf_counter() - t,
        )
        if prefix is not None:
            save(index, prefix)
        return index

    def describe(self, snap: Snapshot) -> str:
        """What a search of `snap` uses: "exact" or "approximate (faiss, N unique vectors)"."""
        if not wanted(snap):
            return "exact"
        current = self._current
        if current is not None and current.generation == snap.generation:
            return current.describe()
        return "exact (approximate index being built)" if self._building == snap.generation else "exact"
