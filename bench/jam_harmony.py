"""The live jam's music beside `generate`'s: the same prompts and seeds, 16 bars each, through
`BarGenerator.next_bar` (an endless stream cut at 16 bars, and a finite 16-bar one) and `generate_song`,
scored by `bridge.generation.metrics` (harmony, cadences, repetition).

    .venv/bin/python bench/jam_harmony.py                  # 96 prompts of metrics.prompt_suite
    .venv/bin/python bench/jam_harmony.py --prompts 48 --json jam.json

Runs from a fresh clone on the shipped generation models (ONNX). Prints the machine and the command line
first, then one row per metric (generate, jam endless, jam finite).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from run_info import announce  # noqa: E402  (bench/ is on sys.path when a bench script runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=96, help="prompts of metrics.prompt_suite (seeds 0..N-1)")
    ap.add_argument("--bars", type=int, default=16)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    from bridge.generation.generate import generate_song
    from bridge.generation.live import BarGenerator, LiveControls, song_of
    from bridge.generation.metrics import REPORT_KEYS, prompt_suite, summarize
    from bridge.generation.prompt import parse_prompt
    from bridge.generation.runtime import GenerationModels

    info = announce()
    models = GenerationModels.load()
    groups: dict[str, list] = {"generate": [], "jam endless": [], "jam finite": []}
    for i, text in enumerate(prompt_suite(args.prompts)):
        c = parse_prompt(text).with_(bars=args.bars, seed=i)
        groups["generate"].append(generate_song(models, c))
        for label, bars in (("jam endless", 0), ("jam finite", args.bars)):
            g = BarGenerator(models, LiveControls(base=replace(c, bars=bars)))
            played = [g.next_bar(final=bool(bars) and k == args.bars - 1) for k in range(args.bars)]
            groups[label].append(song_of(g, played))
    table = {label: {k: summarize(songs)[k] for k in REPORT_KEYS} for label, songs in groups.items()}
    print(f"{'metric':<34}" + "".join(f"{label:>13}" for label in table))
    for k in REPORT_KEYS:
        print(f"{k:<34}" + "".join(f"{table[label][k]!s:>13}" for label in table))
    if args.json:
        args.json.write_text(json.dumps({"run": info, "prompts": args.prompts, "bars": args.bars, "table": table},
                                        indent=2))


if __name__ == "__main__":
    main()
