"""OSC search hits carry the matched and missed constraints, like `search --json` (issue 15)."""

from __future__ import annotations

from types import SimpleNamespace

from bridge.daemon.handlers.search import LABEL_SEPARATOR, hit_reply
from bridge.daemon.protocol import PROTOCOL


def test_hit_reply_appends_matched_and_missed_after_transpose():
    hit = SimpleNamespace(file="/x/a.mid", score=0.7, window_start_bar=1, window_end_bar=8, start_seconds=0.0,
                          end_seconds=9.5, key="A minor", tempo=90.0, meter="4/4", instruments=("Harpsichord",),
                          transpose=0, matched=("key A minor", "instrument piano (matched family: keyboards)"),
                          missed=("prefers dynamics pp/p/mp (sad)",))
    args = hit_reply(3, 0, hit).args
    assert args[12] == 0  # transpose stays where it was
    assert args[13].split(LABEL_SEPARATOR) == list(hit.matched)
    assert args[14] == "prefers dynamics pp/p/mp (sad)"
    none = hit_reply(3, 1, SimpleNamespace(**{**vars(hit), "matched": (), "missed": ()})).args
    assert none[13:] == ("", "")


def test_the_reply_is_documented():
    spec = PROTOCOL.replies["/midibridge/search/hit"]
    text = str(spec)
    assert "s matched" in text and "s missed" in text
