"""Weight-space ensembling (WiSE-FT) of a fine-tuned run with the model it started from.

    python -m models.retrieval.wise --run runs/retrieval/views/best --base bridge/assets/models/retrieval \
        --alpha 0.5 --out runs/retrieval/views/wise0.5

Every float weight becomes alpha * run + (1 - alpha) * base; the base may be an exported directory (rebuilt by
`from_onnx.load_from_export`) or a checkpoint directory. The result is a checkpoint directory that
`midibridge export retrieval --model` takes. Averaging keeps most of what the base did (text search) and part of
what the fine-tune learned (MIDI<->MIDI views): the shipped release 2 is alpha 0.5 (MODEL_CARD.md).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch

from models.retrieval.from_onnx import load_from_export
from models.retrieval.model import load_model


def _base_state(base: Path) -> dict[str, torch.Tensor]:
    if (base / "model.pt").is_file():
        return load_model(base)[0].state_dict()
    return load_from_export(base).state_dict()


def average(run: Path, base: Path, alpha: float, out: Path) -> Path:
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha {alpha} is outside 0..1")
    ckpt = torch.load(run / "model.pt", map_location="cpu", weights_only=False)
    tuned, start = ckpt["model"], _base_state(base)
    if set(tuned) != set(start):
        raise ValueError(f"{run} and {base} hold different weights")
    mixed = {k: (alpha * v.float() + (1 - alpha) * start[k].float()).to(v.dtype) if v.is_floating_point() else v
             for k, v in tuned.items()}
    out.mkdir(parents=True, exist_ok=True)
    torch.save({**ckpt, "model": mixed, "optimizer": None, "wise_alpha": alpha, "wise_base": str(base)},
               out / "model.pt")
    for name in ("retrieval_config.json", "midi_tokenizer.json"):
        shutil.copy2(run / name, out / name)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="fine-tuned checkpoint dir (RUN/best)")
    parser.add_argument("--base", type=Path, required=True, help="the model it started from (export or checkpoint)")
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    print(average(args.run, args.base, args.alpha, args.out))


if __name__ == "__main__":
    main()
