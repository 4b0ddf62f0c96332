"""MIDI<->MIDI views (--view-weight) and the torch model rebuilt from the shipped ONNX towers (--init-from-onnx)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import TINY_MODEL

from bridge.cli.main import main
from bridge.music import NoteList, Piece, TempoChange, TimeSignature
from models.retrieval import views


def _tune(bars: int = 8, program: int = 40, bpm: float = 100.0) -> Piece:
    """A scale-wise melody, one note per beat, on one program, with a drum hit per bar."""
    beats = 4 * bars
    pitch = 60 + np.array([0, 2, 4, 5, 7, 9, 11, 12] * (beats // 8 + 1))[:beats]
    melody = NoteList.from_columns(np.arange(beats, dtype=float), np.full(beats, 0.9), pitch, np.full(beats, 80),
                                   np.full(beats, program), np.zeros(beats, bool), np.zeros(beats, int))
    drums = NoteList.from_columns(np.arange(0, beats, 4, dtype=float), np.full(bars, 0.5), np.full(bars, 36),
                                  np.full(bars, 100), np.zeros(bars), np.ones(bars, bool), np.zeros(bars, int))
    return Piece(notes=melody.concat(drums).sorted(), tempos=(TempoChange(0.0, bpm),),
                 time_signatures=(TimeSignature(0.0, 4, 4),))


def test_a_played_view_is_a_short_piano_excerpt_of_the_windows_start_without_drums():
    rng = np.random.default_rng(3)
    tune = _tune(bars=12)
    for _ in range(20):
        view = views.played_view(views.library_window(tune, rng), rng)
        assert view is not None
        assert set(view.notes.program.tolist()) == {0} and not view.notes.is_drum.any()
        assert 6 <= len(view.notes) <= 16  # 2-4 bars of one note per beat
        # Its pitches are the tune's (moved at most a fourth/fifth either way).
        lo, hi = 60 - views.TRANSPOSE_RANGE, 72 + views.TRANSPOSE_RANGE
        assert view.notes.pitch.min() >= lo and view.notes.pitch.max() <= hi


def test_a_revoiced_view_keeps_every_pitched_note_on_one_other_program_at_another_tempo():
    rng = np.random.default_rng(5)
    tune = _tune()
    seen_programs, seen_tempos = set(), set()
    for _ in range(20):
        view = views.revoiced_view(tune, rng)
        assert len(view.notes) == 32 and not view.notes.is_drum.any()
        assert len(set(view.notes.program.tolist())) == 1
        shift = int(view.notes.pitch.min()) - 60
        assert abs(shift) <= views.TRANSPOSE_RANGE
        lo, hi = (100.0 * f for f in views.played.TEMPO_FACTORS)
        assert lo - 1e-6 <= view.tempo_at(0.0) <= hi + 1e-6
        seen_programs.add(int(view.notes.program[0]))
        seen_tempos.add(round(view.tempo_at(0.0), 3))
    assert len(seen_programs) > 5 and len(seen_tempos) > 5


def test_too_few_notes_give_no_view():
    rng = np.random.default_rng(0)
    sparse = _tune(bars=1).with_notes(_tune(bars=1).notes.take(np.arange(3)))
    assert views.second_view(sparse, rng) is None


def test_the_rebuilt_torch_model_is_the_shipped_onnx_tower():
    pytest.importorskip("torch")
    from bridge.inference.retrieval import RetrievalEncoders, default_model_dir
    from models.retrieval.from_onnx import load_from_export, parity

    encoders = RetrievalEncoders.load()
    model = load_from_export(default_model_dir())
    rng = np.random.default_rng(1)
    windows = [encoders.midi_window.of_piece(views.revoiced_view(_tune(bars=4 + i % 5), rng)) for i in range(8)]
    assert parity(model, encoders, windows) > 0.999


@pytest.mark.slow
def test_view_training_from_scratch_and_from_the_shipped_model(tiny_corpus, tmp_path):
    def train(out, *extra):
        result = CliRunner().invoke(main, [
            "train", "retrieval", "--data", str(tiny_corpus), "--out", str(out), "--batch-size", "8",
            "--warmup-steps", "2", "--eval-every", "2", "--valid-size", "16", "--loss", "infonce",
            "--view-weight", "1.0", "--max-steps", "4", "--json", *extra])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    report = train(tmp_path / "tiny", *TINY_MODEL)
    assert report["steps"] == 4
    rows = [json.loads(line) for line in (tmp_path / "tiny" / "train_log.jsonl").read_text().splitlines()]
    assert all(0.0 <= r["valid_view_top3"] <= 1.0 for r in rows)
    from bridge.inference.retrieval import default_model_dir

    shipped = train(tmp_path / "shipped", "--init-from-onnx", str(default_model_dir()))
    assert shipped["steps"] == 4
    cfg = json.loads((tmp_path / "shipped" / "best" / "retrieval_config.json").read_text())
    assert cfg["d_model"] == 384 and cfg["header"] is True


def test_wise_averaging_lands_halfway_between_the_run_and_its_base(tmp_path):
    torch = pytest.importorskip("torch")
    from bridge.inference.retrieval import default_model_dir
    from models.retrieval.from_onnx import load_from_export
    from models.retrieval.model import RetrievalConfig
    from models.retrieval.wise import average

    base = default_model_dir()
    model = load_from_export(base)
    run = tmp_path / "run"
    run.mkdir()
    tuned = {k: v + 1.0 if v.is_floating_point() else v for k, v in model.state_dict().items()}
    torch.save({"model": tuned, "step": 1}, run / "model.pt")
    RetrievalConfig.load(base).save(run)
    (run / "midi_tokenizer.json").write_text((base / "midi_tokenizer.json").read_text())
    out = average(run, base, 0.25, tmp_path / "wise")
    mixed = torch.load(out / "model.pt", map_location="cpu", weights_only=False)["model"]
    name = "midi.blocks.0.ff.up.weight"
    assert torch.allclose(mixed[name], model.state_dict()[name] + 0.25, atol=1e-5)
    with pytest.raises(ValueError, match="outside 0..1"):
        average(run, base, 1.5, tmp_path / "bad")
