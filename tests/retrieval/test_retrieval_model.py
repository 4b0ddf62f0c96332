import json

import pytest
import torch

from models.retrieval.losses import info_nce_loss, margin_ranking_loss, same_caption_mask
from models.retrieval.model import RetrievalConfig, RetrievalModel

TINY = RetrievalConfig(vocab_size=50, max_len=32, d_model=32, n_layers=1, n_heads=2, d_ff=64, dropout=0.0)


def test_config_round_trip_and_required(tmp_path):
    TINY.save(tmp_path)
    assert RetrievalConfig.load(tmp_path) == TINY
    with pytest.raises(FileNotFoundError):
        RetrievalConfig.load(tmp_path / "nowhere")
    (tmp_path / "retrieval_config.json").write_text(json.dumps({"bogus": 1}))
    with pytest.raises(ValueError):
        RetrievalConfig.load(tmp_path)


def test_reference_tower_shape():
    model = RetrievalModel(RetrievalConfig())
    assert 5e6 < sum(p.numel() for p in model.midi.parameters()) < 9e6  # "6 M parameters" in MODELS.md


@pytest.mark.parametrize("pooling", ["mean", "attention"])
def test_midi_embeddings_are_normalised_and_ignore_padding(pooling):
    torch.manual_seed(0)
    model = RetrievalModel(RetrievalConfig(**{**TINY.__dict__, "pooling": pooling})).eval()
    ids = torch.tensor([[4, 7, 9, 0, 0], [4, 7, 9, 12, 13]])
    out = model.encode_midi(ids)
    assert out.shape == (2, 384)  # embed_dim, the shared space
    assert torch.allclose(out.norm(dim=1), torch.ones(2), atol=1e-5)
    assert torch.allclose(model.encode_midi(ids[:1, :3]), out[:1], atol=1e-5)  # padding changes nothing
    assert torch.isfinite(model.encode_midi(torch.zeros(1, 4, dtype=torch.long))).all()  # all-pad row


def test_text_projection_starts_as_identity():
    model = RetrievalModel(RetrievalConfig(d_model=32, n_layers=1, n_heads=2, d_ff=64))
    v = torch.nn.functional.normalize(torch.randn(3, 384), dim=1)
    assert torch.allclose(model.encode_text(v), v, atol=1e-6)


def test_margin_loss_uses_hardest_negative_and_skips_same_captions():
    text = torch.eye(3)
    midi = torch.eye(3)
    same = torch.eye(3, dtype=torch.bool)
    assert margin_ranking_loss(text, midi, 0.3, same) == 0  # perfect separation beyond the margin
    midi_bad = torch.tensor([[1.0, 0, 0], [1.0, 0, 0], [0, 0, 1.0]])
    assert margin_ranking_loss(text, midi_bad, 0.3, same) > 0
    vecs = torch.nn.functional.normalize(torch.tensor([[1.0, 0], [1.0, 0], [0, 1.0]]), dim=1)
    mask = same_caption_mask(vecs)
    assert mask[0, 1] and mask[1, 0] and not mask[0, 2]


def test_info_nce_prefers_matched_pairs():
    text = torch.nn.functional.normalize(torch.randn(8, 16), dim=1)
    same = torch.eye(8, dtype=torch.bool)
    good = info_nce_loss(text, text, torch.tensor(2.0), same)
    bad = info_nce_loss(text, text.roll(1, 0), torch.tensor(2.0), same)
    assert good < bad
