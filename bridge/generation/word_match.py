"""Prompt words outside the vocabulary, matched through the retrieval text tower.

"a grieving tune" names no mood word we know, but the text tower puts "grieving" next to "mournful". Each
vocabulary word is an anchor carrying a control value (mode, tempo, or a dance's meter and tempo); an unknown
word takes the value of its nearest anchor only when the match is clear. The tower was trained to match
captions, not single words, and weak neighbours are often wrong ("funereal" lands nearest "festive" at 0.47),
so a match needs a high cosine and a margin over every anchor that would say something else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bridge.generation.prompt import MAJOR_WORDS, MINOR_WORDS, STYLE_METER, TEMPO_WORDS, Controls

MIN_COSINE = 0.65  # measured on the shipped tower: right matches scored 0.75-0.80, wrong ones at most 0.59
MIN_MARGIN = 0.10  # over the best anchor whose value conflicts
TEMPO_CONFLICT_BPM = 30.0  # tempo words closer than this name the same region (fast 140, very fast 168)


@dataclass(frozen=True)
class Anchor:
    word: str
    control: str  # "mode" | "tempo" | "style"
    value: object  # "minor" | bpm | (meter, bpm)


def anchors() -> list[Anchor]:
    out = [Anchor(w, "mode", "minor") for w in MINOR_WORDS if w != "minor"]
    out += [Anchor(w, "mode", "major") for w in MAJOR_WORDS if w != "major"]
    out += [Anchor(w, "tempo", float(bpm)) for w, bpm in TEMPO_WORDS.items()]
    out += [Anchor(w, "style", (m, float(bpm))) for w, (m, bpm) in STYLE_METER.items()]
    return out


def _conflicts(a: Anchor, b: Anchor) -> bool:
    """Would `b` set a control to something other than what `a` sets?"""
    tempo_a = a.value if a.control == "tempo" else a.value[1] if a.control == "style" else None
    tempo_b = b.value if b.control == "tempo" else b.value[1] if b.control == "style" else None
    if a.control == "mode" or b.control == "mode":  # a mood and a tempo set different controls
        return a.control == b.control and a.value != b.value
    if a.control == "style" and b.control == "style" and a.value[0] != b.value[0]:
        return True
    return abs(tempo_a - tempo_b) > TEMPO_CONFLICT_BPM


def best_anchor(similarity: np.ndarray, table: list[Anchor]) -> tuple[Anchor, float] | None:
    """The nearest anchor if it clears MIN_COSINE and beats every conflicting anchor by MIN_MARGIN."""
    i = int(np.argmax(similarity))
    best, score = table[i], float(similarity[i])
    if score < MIN_COSINE:
        return None
    rivals = [float(s) for a, s in zip(table, similarity) if _conflicts(best, a)]
    if rivals and score - max(rivals) < MIN_MARGIN:
        return None
    return best, score


class WordMatcher:
    """Holds the anchor embeddings of one text encoder (anything with `encode_text(list[str])`)."""

    def __init__(self, encoder) -> None:
        self.encoder = encoder
        self.table = anchors()
        self.vectors = self._embed([a.word for a in self.table])

    def _embed(self, words: list[str]) -> np.ndarray:
        # A bare word is far from the captions the tower was trained on; "<word> music" is closer to them.
        return self.encoder.encode_text([f"{w} music" for w in words])

    def match(self, words: tuple[str, ...]) -> list[tuple[str, Anchor, float]]:
        if not words:
            return []
        sims = self._embed(list(words)) @ self.vectors.T
        found = []
        for word, row in zip(words, sims):
            hit = best_anchor(row, self.table)
            if hit is not None:
                found.append((word, *hit))
        return found

    def apply(self, c: Controls, meter_given: bool = False, tempo_given: bool = False) -> Controls:
        """Fill controls the prompt left open from its unknown words; what the prompt stated always wins."""
        mode_open = not c.key_given and not any(w in MINOR_WORDS + MAJOR_WORDS for w in c.matched)
        tempo_open = not (tempo_given or c.tempo_given) and not any(w in TEMPO_WORDS or w.endswith("bpm")
                                                                    for w in c.matched)
        meter_open = not (meter_given or c.meter_given) and not any(w in STYLE_METER or "/" in w for w in c.matched)
        changes: dict = {}
        matched = list(c.matched)
        unmatched = list(c.unmatched)
        for word, anchor, _score in self.match(c.unmatched):
            if anchor.control == "mode" and mode_open and "mode" not in changes:
                changes["mode"] = anchor.value
            elif anchor.control == "tempo" and tempo_open and "tempo_bpm" not in changes:
                changes["tempo_bpm"] = anchor.value
            elif anchor.control == "style" and meter_open and "meter" not in changes:
                changes["meter"] = anchor.value[0]
                if tempo_open and "tempo_bpm" not in changes:
                    changes["tempo_bpm"] = anchor.value[1]
            else:
                continue
            matched.append(f"{word}~{anchor.word}")
            unmatched.remove(word)
        return c.with_(**changes, matched=tuple(matched), unmatched=tuple(unmatched))
