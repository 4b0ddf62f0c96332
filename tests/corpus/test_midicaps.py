import json

from click.testing import CliRunner

from bridge.cli.main import main
from bridge.music import NoteList, Piece, TempoChange, TimeSignature, save_midi


def _midicaps_fixture(root):
    """A MidiCaps-style train.json (JSON lines) over a Lakh-like folder, with one row whose file is missing."""
    lakh = root / "lmd_full"
    for sub, name, pitch in (("1", "1a2b3c.mid", 60), ("f", "f00d.mid", 57)):
        (lakh / sub).mkdir(parents=True)
        notes = NoteList.from_tuples([(i, 1, pitch + (i % 3) * 4) for i in range(32)], program=0)
        save_midi(Piece(notes, tempos=(TempoChange(0, 96.0),), time_signatures=(TimeSignature(0, 4, 4),)),
                  lakh / sub / name)
    rows = [
        {"location": "lmd_full/1/1a2b3c.mid", "caption": "A melodic piano piece in C major with a calm mood.",
         "genre": ["classical", "pop"], "genre_prob": [0.6, 0.2], "mood": ["calm", "relaxing"],
         "mood_prob": [0.5, 0.3], "key": "C major", "time_signature": "4/4", "tempo": 96,
         "tempo_word": "Andante", "duration": 20, "duration_word": "Short fragment",
         "chord_summary": ["C", "E", "G"], "chord_summary_occurence": 3,
         "instrument_summary": ["Piano"], "instrument_numbers_sorted": [0], "test_set": False},
        {"location": "lmd_full/f/f00d.mid", "caption": "A sad piano song in A minor.", "genre": ["pop"],
         "mood": ["sad"], "key": "A minor", "time_signature": "4/4", "tempo": 96, "tempo_word": "Andante",
         "duration": 20, "chord_summary": ["Am"], "instrument_summary": ["Piano"], "test_set": True},
        {"location": "lmd_full/0/missing.mid", "caption": "Gone.", "key": "D major", "test_set": False},
    ]
    path = root / "train.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "not json\n")
    return path, root


def test_load_midicaps_writes_the_corpus_format(tmp_path):
    train, midi_dir = _midicaps_fixture(tmp_path / "src")
    out = tmp_path / "corpus"
    result = CliRunner().invoke(main, ["data", "load-midicaps", str(train), "--midi-dir", str(midi_dir),
                                       "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "captions.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    by_key = {r["key"]: r for r in rows}
    assert by_key["A minor"]["split"] == "test" and by_key["A minor"]["mode"] == "minor"
    assert by_key["C major"]["split"] in ("train", "valid")
    assert by_key["C major"]["genre"] == "classical" and by_key["C major"]["mood"] == ["calm", "relaxing"]
    assert all((out / r["location"]).is_file() for r in rows)
    reasons = [json.loads(line)["reason"] for line in (out / "report.jsonl").read_text().splitlines()]
    assert any("not found" in r for r in reasons) and any("bad JSON" in r for r in reasons)
    check = CliRunner().invoke(main, ["data", "check", str(out), "--min-clips", "2", "--min-pieces", "2",
                                      "--require-categories", "midicaps"])
    assert check.exit_code == 0, check.output
