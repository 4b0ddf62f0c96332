"""Tiny corpus -> train (CLI) -> export (ONNX, parity, int8) -> runtime search, on CPU in about a minute."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import TINY_MODEL

from bridge.cli.main import main
from bridge.inference import RetrievalEncoders
from bridge.music import load_midi
from models.retrieval.data import read_clips

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tiny_corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("retrieval_run")
    run, exported = root / "run", root / "onnx"
    runner = CliRunner()
    result = runner.invoke(main, [
        "train", "retrieval", "--data", str(tiny_corpus), "--out", str(run), "--max-steps", "40",
        "--batch-size", "8", "--warmup-steps", "5", "--eval-every", "20", "--valid-size", "16", "--json",
        *TINY_MODEL,
    ])
    assert result.exit_code == 0, result.output
    train_report = json.loads(result.stdout)
    result = runner.invoke(main, [
        "export", "retrieval", "--model", str(run / "best"), "--out", str(exported), "--data", str(tiny_corpus),
        "--parity-items", "24", "--valid-items", "50", "--json",
    ])
    assert result.exit_code == 0, result.output
    export_report = json.loads(result.stdout)
    return tiny_corpus, run, exported, train_report, export_report


def test_training_writes_checkpoint_with_configs(trained):
    _, run, _, report, _ = trained
    assert report["steps"] == 40
    for name in ("model.pt", "retrieval_config.json", "midi_tokenizer.json"):
        assert (run / name).is_file() and (run / "best" / name).is_file()
    rows = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [20, 40]
    import torch

    ckpt = torch.load(run / "model.pt", map_location="cpu", weights_only=False)
    assert {"config", "tokenizer_config", "git_commit", "optimizer", "step"} <= set(ckpt)


def test_export_parity_and_precision_choice(trained):
    _, _, exported, _, report = trained
    assert report["parity_fp32"]["text_min_cosine"] >= 0.999
    assert report["parity_fp32"]["midi_min_cosine"] >= 0.999
    r10 = report["precision"]["valid_R@10"]
    chosen = f"text_{report['chosen']['text']}+midi_{report['chosen']['midi']}"
    assert r10[chosen] >= r10["text_fp32+midi_fp32"] - 0.01
    # The smallest pair that keeps R@10 ships (a smaller text tower is also a faster query).
    mb = report["precision"]["size_mb"]

    def size(pair: str) -> float:
        text, midi = (part.split("_", 1)[1] for part in pair.split("+"))
        return mb[f"text_{text}"] + mb[f"midi_{midi}"]

    kept = [pair for pair, v in r10.items() if v >= r10["text_fp32+midi_fp32"] - 0.01 and size(pair) <= 60]
    assert size(chosen) == min(size(pair) for pair in kept)
    reported = set(report["precision"]["min_cosine_to_fp32"])
    assert reported == {f"{t}_{p}" for t in ("text", "midi") for p in ("fp16", "int8")}
    assert report["shipped_mb"] <= 60
    for name in ("text_encoder.json", "midi_encoder.json", "tokenizer.json", "midi_tokenizer.json"):
        assert (exported / name).is_file()
    # Trained with the clip header (the default), so the runtime must build headed windows too.
    assert json.loads((exported / "midi_encoder.json").read_text())["header"] is True


def test_runtime_search_finds_clips(trained):
    corpus, _, exported, _, _ = trained
    enc = RetrievalEncoders.load(exported)
    clips = read_clips(corpus, ("test",))
    pieces = [load_midi(corpus / c.location) for c in clips]
    vecs = enc.encode_pieces(pieces)
    queries = enc.encode_text([c.captions[0][0] for c in clips])
    assert vecs.shape == (len(clips), enc.dim) and queries.shape == (len(clips), enc.dim)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-3)
    assert np.allclose(np.linalg.norm(queries, axis=1), 1, atol=1e-3)
    top = np.argsort(-(queries @ vecs.T), axis=1)[:, :10]
    assert top.shape == (len(clips), min(10, len(clips)))
    # Batching and padding barely change a clip's vector (int8 activations are scaled per batch).
    assert float(enc.encode_pieces(pieces[:1])[0] @ vecs[0]) > 0.999


def test_onnx_eval_runs_without_torch_and_matches_torch(trained, tmp_path):
    corpus, run, exported, _, _ = trained
    # fp32 files: a 40-step model puts clips so close together that any rounding reorders them; the shipped
    # model's chosen precisions are compared with torch on the real test split in its MODEL_CARD.md.
    fp32 = tmp_path / "fp32"
    shutil.copytree(exported, fp32)
    for name, file in (("text_encoder.json", "text_encoder.onnx"), ("midi_encoder.json", "midi_encoder.onnx")):
        cfg = json.loads((fp32 / name).read_text())
        (fp32 / name).write_text(json.dumps({**cfg, "file": file, "precision": "fp32"}))
    code = (
        "import sys, json\n"
        "from bridge.cli.main import main\n"
        f"main(['eval', 'retrieval', '--model', {str(fp32)!r}, '--data', {str(corpus)!r}, '--json'],"
        " standalone_mode=False)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'sentence_transformers', 'export'))\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    onnx_report = json.loads(done.stdout)
    result = CliRunner().invoke(main, ["eval", "retrieval", "--model", str(run / "best"), "--data", str(corpus),
                                       "--backend", "torch", "--json"])
    assert result.exit_code == 0, result.output
    torch_report = json.loads(result.stdout)
    assert onnx_report["held_out_family"] == "casual"
    for group in ("training_families", "held_out_family"):
        for direction in ("text_to_midi", "midi_to_text"):
            a = onnx_report["results"]["model"][group][direction]
            b = torch_report["results"]["model"][group][direction]
            for metric in ("R@1", "R@5", "R@10", "MRR"):
                assert abs(a[metric] - b[metric]) <= 0.01, (group, direction, metric, a, b)
    feature = onnx_report["results"]["feature_matching"]["held_out_family"]["text_to_midi"]
    random = onnx_report["results"]["random"]["held_out_family"]["text_to_midi"]
    assert feature["MRR"] > random["MRR"]  # the tiny captions name key, meter, tempo and instrument


def test_missing_model_is_a_clean_error(tmp_path, tiny_corpus):
    result = CliRunner().invoke(main, ["eval", "retrieval", "--model", str(tmp_path), "--data", str(tiny_corpus),
                                       "--backend", "onnx"])
    assert result.exit_code != 0 and "text_encoder.json" in result.output
    with pytest.raises(FileNotFoundError):
        RetrievalEncoders.load(tmp_path)
