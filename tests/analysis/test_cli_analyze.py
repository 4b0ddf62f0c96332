"""`midibridge analyze FILE [--json]`."""

import json
from pathlib import Path

from click.testing import CliRunner

from bridge.cli.main import main


def test_analyze_table(chorale_path):
    result = CliRunner().invoke(main, ["analyze", str(chorale_path)])
    assert result.exit_code == 0, result.output
    for text in ("F# minor", "Andante", "4/4", "homophonic", "Clarinet"):
        assert text in result.output


def test_analyze_json(chorale_path):
    result = CliRunner().invoke(main, ["analyze", str(chorale_path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["key"]["name"] == "F# minor"
    assert report["tempo_word"] == "Andante"
    assert report["chords"] and report["progression"]
    assert report["file"] == str(chorale_path)


def test_corrupt_file_gives_a_clean_error(tmp_path):
    bad = tmp_path / "broken.mid"
    bad.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\xff\xff garbage")
    result = CliRunner().invoke(main, ["analyze", str(bad)])
    assert result.exit_code != 0
    assert "broken.mid" in result.output and "MIDI" in result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_missing_file(tmp_path):
    result = CliRunner().invoke(main, ["analyze", str(tmp_path / "nope.mid")])
    assert result.exit_code != 0
    assert "cannot read file" in result.output


RAG = Path(__file__).parent / "data" / "maple_leaf_rag.mid"


def test_analyze_lists_key_changes():
    result = CliRunner().invoke(main, ["analyze", str(RAG), "--no-chords"])
    assert result.exit_code == 0, result.output
    assert "key changes" in result.output
    assert "Ab major -> Db major" in result.output and "Db major -> Ab major" in result.output
    report = json.loads(CliRunner().invoke(main, ["analyze", str(RAG), "--json"]).output)
    assert report["key"]["name"] == "Ab major"
    changes = report["key_changes"]
    assert [(c["from"], c["to"]) for c in changes] == [("Ab major", "Db major"), ("Db major", "Ab major")]
    assert all(isinstance(c["bar"], int) and c["bar"] > 1 for c in changes)


def test_one_key_piece_says_none(chorale_path):
    result = CliRunner().invoke(main, ["analyze", str(chorale_path), "--no-chords"])
    assert "key changes" in result.output and "none" in result.output
    assert json.loads(CliRunner().invoke(main, ["analyze", str(chorale_path), "--json"]).output)["key_changes"] == []
