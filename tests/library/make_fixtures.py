"""Writes the real MIDI files in tests/library/data/ from music21's public-domain corpus.

Run once (music21 is slow) and commit the output: `python tests/library/make_fixtures.py`.
Bach chorales (4/4, several keys) and folk tunes in 3/4 and 6/8 give the key/meter variety the
ranking tests need.
"""

from __future__ import annotations

import logging
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data"
CHORALES = ["bwv1.6", "bwv10.7", "bwv101.7", "bwv102.7", "bwv103.6", "bwv104.6", "bwv108.6", "bwv11.6"]
WANTED_METERS = {"6/8": 3}  # bwv11.6 is in 3/4 already


def main() -> None:
    from music21 import corpus

    OUT.mkdir(exist_ok=True)
    for name in CHORALES if not (OUT / "chorale_bwv11_6.mid").exists() else ():
        score = corpus.parse(f"bach/{name}")
        score.write("midi", fp=str(OUT / f"chorale_{name.replace('.', '_')}.mid"))
    found = {m: 0 for m in WANTED_METERS}
    for path in sorted(corpus.getPaths(fileExtensions=("abc",)))[:40]:
        for i, score in enumerate(_opus(path)):
            ts = score.recurse().getElementsByClass("TimeSignature").first()
            meter = ts.ratioString if ts else None
            if meter in found and found[meter] < WANTED_METERS[meter] and len(score.flatten().notes) > 30:
                found[meter] += 1
                out = OUT / f"tune_{meter.replace('/', '-')}_{found[meter]}.mid"
                score.write("midi", fp=str(out))
            if all(found[m] >= WANTED_METERS[m] for m in found):
                return
            if i > 60:
                break


def _opus(path):
    from music21 import converter, stream

    parsed = converter.parse(path)
    return parsed.scores if isinstance(parsed, stream.Opus) else [parsed]


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
