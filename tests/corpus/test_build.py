"""A tiny real corpus built through the CLI, checked with the same invariants as the full one."""

import json

import numpy as np
import pytest
import symusic
from click.testing import CliRunner

from bridge.cli.main import main
from bridge.music import NoteList, Piece, TempoChange, save_midi

COLLECTIONS = "essen,oneill,ryan,chorales,palestrina"


def _bad_inputs(folder):
    """Every kind of broken or absurd MIDI file a user's folder may hold, plus one good file."""
    folder.mkdir()
    (folder / "zero.mid").write_bytes(b"")
    (folder / "random.mid").write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8)))
    (folder / "no_tracks.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x00\x01\xe0")
    good = Piece(NoteList.from_tuples([(i * 0.5, 0.5, 60 + (i * 5) % 12) for i in range(64)]))
    save_midi(good, folder / "good.mid")
    (folder / "truncated.mid").write_bytes((folder / "good.mid").read_bytes()[:60])
    # other notes than good.mid, or deduplication would (rightly) drop one of the two
    fast = good.notes.with_(pitch=(good.notes.pitch + np.arange(len(good.notes)) % 5).astype(np.int16))
    save_midi(Piece(fast, tempos=(TempoChange(0.0, 5000.0),)), folder / "absurd_tempo.mid")
    n = 200_000
    huge = symusic.Score(480)
    track = symusic.Track(name="huge")
    track.notes = symusic.Note.from_numpy(
        time=np.arange(n, dtype=np.int32) * 5, duration=np.full(n, 5, np.int32),
        pitch=(40 + np.arange(n) % 40).astype(np.int8), velocity=np.full(n, 80, np.int8),
    )
    huge.tracks.append(track)
    (folder / "huge.mid").write_bytes(huge.dumps_midi())
    empty = symusic.Score(480)
    empty.tracks.append(symusic.Track(name="silent"))
    (folder / "no_notes.mid").write_bytes(empty.dumps_midi())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    base = tmp_path_factory.mktemp("corpus")
    _bad_inputs(base / "user")
    out = base / "tiny"
    result = CliRunner().invoke(main, [
        "data", "build", "--out", str(out), "--limit-per-collection", "2", "--workers", "1",
        "--collections", COLLECTIONS, "--mma-fraction", "1.0", "--midi-dir", str(base / "user"),
    ])
    assert result.exit_code == 0, result.output
    return out


def _rows(corpus):
    return [json.loads(line) for line in (corpus / "captions.jsonl").read_text().splitlines()]


def test_tiny_corpus_passes_the_checks(tiny):
    result = CliRunner().invoke(main, ["data", "check", str(tiny), "--min-clips", "20", "--min-pieces", "10",
                                       "--json"])
    report = json.loads(result.output)
    assert result.exit_code == 0, [c for c in report["checks"] if not c["ok"]]
    assert report["counts"]["by_category"].keys() >= {"folk", "chorale", "polyphony"}


def test_check_fails_on_a_violated_invariant(tiny, tmp_path):
    rows = _rows(tiny)
    rows[0] = {**rows[0], "split": "train", "captions": rows[0]["captions"] + ["A sorrowful tune."]}
    (tmp_path / "captions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "manifest.json").write_text((tiny / "manifest.json").read_text())
    result = CliRunner().invoke(main, ["data", "check", str(tmp_path), "--min-clips", "20", "--min-pieces", "10"])
    assert result.exit_code == 1
    assert "FAIL held_out_synonyms" in result.output and "FAIL files" in result.output


def test_rows_follow_the_contract(tiny):
    rows = _rows(tiny)
    manifest = json.loads((tiny / "manifest.json").read_text())
    assert manifest["held_out_family"] == "request" and "sorrowful" in manifest["held_out_synonyms"]
    grooves = [r for r in rows if r["groove"]]
    assert grooves, "one MMA groove clip at least"
    assert all("drums" in r["instruments"] for r in grooves)
    assert any(r["transposed"] for r in rows) and any(r["orchestrated"] and not r["groove"] for r in rows)
    for r in rows:
        assert 1 <= r["bars"] <= 16
        assert r["location"].startswith(f"clips/{r['collection']}/")
        if r["collection"] in ("oneill", "ryan", "essen"):
            assert r["key_source"] == "abc_header"
        if r["collection"] == "essen":
            assert r["licence"].startswith("non-commercial")
    # re-orchestrated chorales really carry other GM programs than music21's program 0
    from bridge.music import load_midi

    chorale = next(r for r in rows if r["collection"] == "chorales" and r["orchestrated"])
    assert set(load_midi(tiny / chorale["location"]).notes.program.tolist()) - {0}


def test_bad_inputs_are_reported_and_the_good_one_kept(tiny):
    reports = [json.loads(line) for line in (tiny / "report.jsonl").read_text().splitlines()]
    by_file = {r["source"].rsplit("/", 1)[-1]: r["reason"] for r in reports}
    assert "empty" in by_file["zero.mid"]
    assert "MThd" in by_file["random.mid"]
    assert "no tracks" in by_file["no_tracks.mid"]
    assert "corrupt" in by_file["truncated.mid"]
    assert by_file["no_notes.mid"] in ("no notes", "no tracks")  # symusic drops empty tracks when writing
    assert "tempo" in by_file["absurd_tempo.mid"]
    assert "capped" in by_file["huge.mid"]
    assert any(r["collection"] == "midi" and "good" in r["location"] for r in _rows(tiny))


def test_stats_and_bundle(tiny, tmp_path):
    result = CliRunner().invoke(main, ["data", "stats", str(tiny), "--json"])
    stats = json.loads(result.output)
    assert stats["clips"] == len(_rows(tiny)) and "essen" in stats["histograms"]["collection"]
    lib = tmp_path / "library"
    result = CliRunner().invoke(main, ["data", "bundle", "--corpus", str(tiny), "--out", str(lib), "--count", "8"])
    assert result.exit_code == 0, result.output
    names = [p.name for p in lib.glob("*.mid")]
    assert names and not [n for n in names if n.startswith("essen")]
    assert all(n in (lib / "SOURCES.md").read_text() for n in names)


def test_rebuild_uses_the_cache(tiny):
    result = CliRunner().invoke(main, ["data", "build", "--out", str(tiny), "--limit-per-collection", "2",
                                       "--workers", "1", "--collections", COLLECTIONS, "--json"])
    manifest = json.loads(result.output)
    assert manifest["cached_source_files"] == manifest["source_files"] > 0


def test_collection_names_match_sources():
    from bridge.cli.data_cmds import _COLLECTION_NAMES
    from models.corpus.sources import COLLECTIONS as SOURCES

    assert _COLLECTION_NAMES == tuple(c.name for c in SOURCES)
