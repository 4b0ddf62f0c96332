"""Models, training, ONNX export with caches and the ONNX runtime, on tiny configs (torch needed)."""

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from gen_toys import toy_song  # noqa: E402

from bridge.generation import vocab as V  # noqa: E402
from bridge.generation.generate import generate_song, harmonize_song  # noqa: E402
from bridge.generation.metrics import meter_ok  # noqa: E402
from bridge.generation.prompt import parse_prompt  # noqa: E402
from bridge.generation.runtime import GenerationModels, ModelNotFound  # noqa: E402
from models.generation.backbone import Backbone, BackboneConfig  # noqa: E402
from models.generation.melody import MelodyConfig, MelodyXL  # noqa: E402

SMALL = dict(d_model=32, n_layer=2, n_head=2, d_ff=64, dropout=0.0)


def _perturbed(model):
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))  # also makes the zero-initialised H-RPE bias non-zero
    return model.eval()


@pytest.mark.parametrize("use_hrpe", [True, False])
def test_backbone_cached_decoding_matches_full_forward(use_hrpe):
    m = _perturbed(Backbone(BackboneConfig(use_hrpe=use_hrpe, **SMALL)))
    tokens = torch.randint(7, V.VOCAB_SIZE, (2, 10))
    harm = torch.randint(0, V.N_HARM, (2, 10))
    full = m(tokens, harm)[0]
    logits, k, v, ph = m(tokens[:, :6], harm[:, :6])
    rest = [m(tokens[:, i:i + 1], harm[:, i:i + 1], k, v, ph) for i in [6]][0]
    logits2, k, v, ph = rest
    logits3 = m(tokens[:, 7:], harm[:, 7:], k, v, ph)[0]
    assert torch.allclose(torch.cat([logits, logits2, logits3], 1), full, atol=1e-5)


def test_hrpe_bias_depends_on_harmony_and_starts_at_zero():
    fresh = Backbone(BackboneConfig(use_hrpe=True, **SMALL)).eval()
    assert all((b.attn.hbias.bias.weight == 0).all() for b in fresh.blocks)
    m = _perturbed(fresh)
    tokens = torch.randint(7, V.VOCAB_SIZE, (1, 8))
    a = m(tokens, torch.full((1, 8), 1))[0]
    b = m(tokens, torch.full((1, 8), 30))[0]  # same tokens, other harmonic ids, same relations (all identical)
    c = m(tokens, torch.tensor([[1, 30, 1, 30, 1, 30, 1, 30]]))[0]
    assert torch.allclose(a, b, atol=1e-6)  # only relations matter: transposition invariant
    assert not torch.allclose(a, c, atol=1e-4)
    rope_only = _perturbed(Backbone(BackboneConfig(use_hrpe=False, **SMALL)))
    assert torch.allclose(rope_only(tokens, torch.full((1, 8), 1))[0], rope_only(tokens, torch.full((1, 8), 5))[0])


def test_melody_memory_is_bounded_and_matches_full_context_when_long_enough():
    m = _perturbed(MelodyXL(MelodyConfig(seg_len=4, mem_len=6, **SMALL)))
    tokens = torch.randint(7, V.VOCAB_SIZE, (1, 12))
    mems, mask = m.empty_memory(1)
    outs = []
    for i in range(12):
        logits, hidden = m(tokens[:, i:i + 1], mems, mask)
        outs.append(logits)
        mems, mask = m.update_memory(mems, mask, hidden, torch.ones(1, 1, dtype=torch.bool), 6)
        assert mems.shape[2] <= 6
    full = m(tokens[:, :7])[0]  # the first 7 steps never dropped anything from memory
    assert torch.allclose(torch.cat(outs[:7], 1), full, atol=1e-5)
    total, count = m.sequence_loss(tokens, torch.ones_like(tokens))
    assert count == 11 and torch.isfinite(total)


def test_training_export_parity_and_onnx_generation(tiny_exported, tmp_path):
    out, reports, runs = tiny_exported
    # the melody also as a key/value-cache graph (melody_kv.onnx)
    assert {r["model"] for r in reports} == {"backbone", "melody", "melody_kv"}
    for r in reports:
        assert r["ok"] and r["max_abs_logit_diff"] < 1e-3
    assert (out / "backbone.json").exists() and (out / "melody.json").exists()
    models = GenerationModels.load(out)
    c = parse_prompt("a slow melancholic waltz in D minor").with_(bars=4, seed=7)
    song = generate_song(models, c)
    assert len(song.bars) == 4 and song.meter == "3/4" and meter_ok(song)
    again = generate_song(models, c)
    assert again == song  # seeded
    harmonized = harmonize_song(models, toy_song(tonic=2, mode="minor", meter="3/4", n_bars=4), c)
    assert [b.notes for b in harmonized.bars] == [b.notes for b in toy_song(2, "minor", "3/4", 4).bars]


def test_onnx_stepper_matches_torch_stepper(tiny_exported):
    from models.generation.steppers import TorchModels
    from models.generation.train import load_checkpoint

    out, _, runs = tiny_exported
    onnx_models = GenerationModels.load(out)
    torch_models = TorchModels(load_checkpoint(runs / "bb" / "ckpt.pt")[0],
                               load_checkpoint(runs / "mel" / "ckpt.pt")[0])
    for a, b in ((onnx_models.backbone, torch_models.backbone), (onnx_models.melody, torch_models.melody)):
        a.reset()
        b.reset()
        seq = [V.BOS, V.key_token(2, "minor"), V.meter_token("3/4"), V.tempo_token(70), V.BAR, V.DENS0 + 1]
        assert np.allclose(a.feed(seq), b.feed(seq), atol=1e-3)
        for t in [V.chord_token(2, 1), V.chord_token(7, 0), V.CAD, V.BAR]:
            assert np.allclose(a.feed([t]), b.feed([t]), atol=1e-3)


def test_model_without_config_is_refused(tiny_exported, tmp_path):
    out, _, _ = tiny_exported
    (tmp_path / "backbone.onnx").write_bytes((out / "backbone.onnx").read_bytes())
    (tmp_path / "melody.onnx").write_bytes((out / "melody.onnx").read_bytes())
    with pytest.raises(ModelNotFound):
        GenerationModels.load(tmp_path)


def test_generate_cli_writes_two_tracks_without_importing_torch(tiny_exported, tmp_path):
    out, _, _ = tiny_exported
    midi = tmp_path / "x.mid"
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from bridge.cli.main import main\n"
        f"r = CliRunner().invoke(main, ['generate', 'a happy jig in G', '--bars', '4', '--seed', '1', "
        f"'--out', {str(midi)!r}, '--models', {str(out)!r}, '--json'])\n"
        "assert r.exit_code == 0, r.output\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'models', 'export')]\n"
        "assert not bad, bad[:5]\n"
        "r = CliRunner().invoke(main, ['generate', '--continue', "
        f"{str(midi)!r}, '--bars', '2', '--out', {str(tmp_path / 'y.mid')!r}, '--models', {str(out)!r}])\n"
        "assert r.exit_code == 0, r.output\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    from bridge.music import load_midi

    piece = load_midi(midi)
    assert {0, 1} <= set(piece.notes.track.tolist())  # chords and melody (the texture may add bass, drums)
    assert str(piece.time_signature_at(0)) == "6/8"
    assert len(piece.bar_starts()) <= 4 + 1
    longer = load_midi(tmp_path / "y.mid")
    assert longer.end > piece.end


def test_eval_prompts_and_export_cli(tiny_exported, tmp_path):
    from click.testing import CliRunner

    from bridge.cli.main import main

    out, _, runs = tiny_exported
    r = CliRunner().invoke(main, ["eval", "generation", "--prompts", "4", "--models", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert '"key_mode_accuracy"' in r.output and '"meter_accuracy": 1.0' in r.output
    r = CliRunner().invoke(main, ["export", "generation", "--backbone", str(runs / "bb" / "ckpt.pt"), "--melody",
                                  str(runs / "mel" / "ckpt.pt"), "--out", str(tmp_path / "exp")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "exp" / "melody.onnx").exists()


def test_heldout_nll_of_onnx_export_matches_the_checkpoint(tiny_exported, toy_data):
    """The shipped models are ONNX only: their held-out NLL must be the same figure as the checkpoint's."""
    from models.generation.evaluate import heldout_nll

    out, _, runs = tiny_exported
    for ckpt, onnx_name in ((runs / "bb" / "ckpt.pt", "backbone.onnx"), (runs / "mel" / "ckpt.pt", "melody.onnx")):
        a = heldout_nll(ckpt, toy_data, max_len=96)
        b = heldout_nll(out / onnx_name, toy_data, max_len=96)
        assert np.isfinite(a) and abs(a - b) < 1e-4
