"""Auxiliary heads (--aux-weight) and --init-from: targets from caption facts, training-only, resumable."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import TINY_MODEL

from bridge.cli.main import main
from models.retrieval.aux_targets import IGNORE, INSTRUMENTS, METERS, MODES, clip_targets, pitch_class


def test_targets_from_caption_facts():
    records = [
        {"tonic": "F#", "mode": "minor", "time_signature": "6/8", "tempo": 100.0, "instruments": ["violin", "zither"]},
        {"tonic": "Bb", "mode": "major", "time_signature": "5/4", "tempo": None, "instruments": []},
        {"tonic": "H", "mode": "lydian"},
        {"key": "E-flat major"},
    ]
    t = clip_targets(records)
    assert t["key"].tolist() == [6 * len(MODES) + MODES.index("minor"), 10 * len(MODES), IGNORE, 3 * len(MODES)]
    assert t["meter"].tolist() == [METERS.index("6/8"), IGNORE, IGNORE, IGNORE]
    assert t["tempo"][0] >= 0 and t["tempo"][1] == IGNORE
    assert t["instruments"][0].sum() == 1 and t["instruments"][0][INSTRUMENTS.index("violin")] == 1
    assert t["instruments"].shape == (4, len(INSTRUMENTS))


@pytest.mark.parametrize("name,pc", [("C", 0), ("E-flat", 3), ("G♯", 8), ("Cb", 11), ("x", None)])
def test_pitch_class(name, pc):
    assert pitch_class(name) == pc


def _train(corpus, out, *extra):
    result = CliRunner().invoke(main, [
        "train", "retrieval", "--data", str(corpus), "--out", str(out), "--batch-size", "8", "--warmup-steps", "2",
        "--eval-every", "4", "--valid-size", "16", "--json", *TINY_MODEL, *extra,
    ])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.slow
def test_aux_heads_train_resume_and_stay_out_of_the_model(tiny_corpus, tmp_path):
    import torch

    base = tmp_path / "base"
    _train(tiny_corpus, base, "--max-steps", "4")
    run = tmp_path / "aux"
    report = _train(tiny_corpus, run, "--max-steps", "4", "--aux-weight", "0.5", "--init-from", str(base / "best"))
    assert report["steps"] == 4  # a fresh schedule: the base run's steps do not count
    ckpt = torch.load(run / "model.pt", map_location="cpu", weights_only=False)
    assert ckpt["aux_heads"] and not any(k.startswith("aux") for k in ckpt["model"])
    rows = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert "key" in rows[-1]["aux_batch_acc"]
    resumed = _train(tiny_corpus, run, "--max-steps", "8", "--aux-weight", "0.5", "--resume")
    assert resumed["steps"] == 8
    base_ckpt = torch.load(base / "best" / "model.pt", map_location="cpu", weights_only=False)
    moved = [k for k in base_ckpt["model"] if not torch.equal(base_ckpt["model"][k], ckpt["model"][k])]
    assert moved  # it trained from the base weights, and they changed
    tok = "midi.tok.weight"
    assert np.allclose(ckpt["model"][tok][0].numpy(), 0)  # the pad row stays zero
    assert ckpt["model"][tok].shape == base_ckpt["model"][tok].shape
