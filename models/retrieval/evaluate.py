"""Evaluate retrieval over a whole split: text->MIDI and MIDI->text R@1/5/10, MRR and median rank,
separately for the training phrasing families and the held-out family, beside the baselines: random scores,
feature matching on analysed features, and feature matching on the corpus labels (an oracle).
Torch-free: works with the ONNX runtime encoders as well.
The other two benchmarks of `eval retrieval` live beside it: played phrases (models/retrieval/played.py) and
natural queries as musicians type them through the library's ranking (models/retrieval/natural.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from models.retrieval.data import Clip, TokenCache, held_out_family, read_clips, usable
from models.retrieval.feature_baseline import analysed_record, score_matrix
from models.retrieval.metrics import ranks_from_scores, summarize, target_ranks

log = logging.getLogger(__name__)

GROUPS = ("training_families", "held_out_family")


def query_groups(clips: list[Clip], held: str | None) -> dict[str, list[tuple[str, int]]]:
    """group -> [(caption, clip index)]; each clip's captions split by whether their family is held out."""
    groups: dict[str, list[tuple[str, int]]] = {g: [] for g in GROUPS}
    for i, c in enumerate(clips):
        for text, family in c.captions:
            groups["held_out_family" if family == held else "training_families"].append((text, i))
    return groups


def both_directions(scores: np.ndarray, queries: list[tuple[str, int]], n_clips: int) -> dict:
    """scores (n_queries, n_clips) -> text->MIDI and MIDI->text summaries.

    MIDI->text ranks the group's distinct caption sentences for each clip that has one; a sentence shared
    by several clips counts as correct for all of them.
    """
    target = np.array([i for _, i in queries])
    t2m = summarize(target_ranks(scores, target))
    texts = sorted({t for t, _ in queries})
    row_of = {t: r for r, t in enumerate(texts)}
    first_query = {}
    for q, (t, _) in enumerate(queries):
        first_query.setdefault(t, q)
    sentence_scores = scores[[first_query[t] for t in texts]].T  # (n_clips, n_sentences)
    correct = np.zeros(sentence_scores.shape, dtype=bool)
    for t, i in queries:
        correct[i, row_of[t]] = True
    has = correct.any(axis=1)
    m2t = summarize(ranks_from_scores(sentence_scores[has], correct[has])) if has.any() else {"n": 0}
    return {"text_to_midi": t2m, "midi_to_text": m2t}


def evaluate(
    encoders,
    data_dir: str | Path,
    split: str = "test",
    cache_dir: str | Path | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    max_queries: int = 0,
) -> dict:
    """`encoders` has encode_text(list[str]), encode_token_ids(list[ids]), `midi_tokenizer` and `midi_window`.

    Every clip of the split is a candidate. `max_queries` > 0 samples that many captions per group
    (seeded, so torch and ONNX runs see the same ones) to bound text-encoding time on slow machines.
    """
    data_dir = Path(data_dir)
    note = progress or (lambda msg: log.info(msg))
    all_clips = read_clips(data_dir)
    held = held_out_family(data_dir, all_clips)
    clips = [c for c in all_clips if c.split == split]
    if not clips:
        raise ValueError(f"no clips in split {split!r} of {data_dir}")
    tokens = TokenCache(data_dir, encoders.midi_tokenizer, cache_dir)
    note(f"tokenising {len(clips)} {split} clips")
    tokens.ensure([c.location for c in clips])
    clips = usable(clips, tokens)
    note(f"encoding {len(clips)} clips")
    window = encoders.midi_window
    clip_vecs = encoders.encode_token_ids([window.of_ids(tokens.get(c.location), tokens.key(c.location))
                                           for c in clips])
    groups = query_groups(clips, held)
    if max_queries:
        pick = np.random.default_rng(seed + 1)
        groups = {g: [q[i] for i in sorted(pick.permutation(len(q))[:max_queries])] for g, q in groups.items()}
    labels = [c.record for c in clips]
    note(f"analysing {len(clips)} clips for the feature baseline")
    analysed = [analysed_record(data_dir / c.location) for c in clips]
    rng = np.random.default_rng(seed)
    # feature_matching: the query's words against what analysis hears in each clip (the baseline a model must
    # beat). feature_labels_oracle: the same against the labels the captions were generated from, an upper
    # bound no search over a user's files can reach; reported so the gap is visible.
    results: dict[str, dict] = {"model": {}, "random": {}, "feature_matching": {}, "feature_labels_oracle": {}}
    for group, queries in groups.items():
        if not queries:
            continue
        texts = [t for t, _ in queries]
        unique = sorted(set(texts))
        note(f"encoding {len(unique)} {group} captions")
        vec_of = dict(zip(unique, encoders.encode_text(unique)))
        text_vecs = np.stack([vec_of[t] for t in texts])
        results["model"][group] = both_directions(text_vecs @ clip_vecs.T, queries, len(clips))
        results["random"][group] = both_directions(rng.random((len(texts), len(clips))), queries, len(clips))
        row = {t: r for r, t in enumerate(unique)}
        for method, records in (("feature_matching", analysed), ("feature_labels_oracle", labels)):
            feature_scores = score_matrix(unique, records)
            results[method][group] = both_directions(feature_scores[[row[t] for t in texts]], queries, len(clips))
    return {
        "split": split,
        "clips": len(clips),
        "queries": {g: len(q) for g, q in groups.items()},
        "max_queries": max_queries,
        "held_out_family": held,
        "results": results,
    }


def format_table(report: dict) -> str:
    """A markdown table of the report (used by the CLI and MODEL_CARD.md)."""
    lines = [
        "| method | queries | direction | R@1 | R@5 | R@10 | MRR | median rank |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for method, groups in report["results"].items():
        for group, dirs in groups.items():
            for direction, m in dirs.items():
                if not m.get("n"):
                    continue
                lines.append(
                    f"| {method} | {group} | {direction.replace('_', ' ')} | {m['R@1']:.3f} | {m['R@5']:.3f} | "
                    f"{m['R@10']:.3f} | {m['MRR']:.3f} | {m['median_rank']:.0f} |"
                )
    return "\n".join(lines)
