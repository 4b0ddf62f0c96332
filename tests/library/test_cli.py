import json
from pathlib import Path

from click.testing import CliRunner
from library_helpers import write_bad_files

from bridge import paths
from bridge.cli.main import main
from bridge.library import SEARCH_SCHEMA_VERSION
from bridge.music import load_midi

# The default path: the shipped model ranks by embedding; a checkout without one falls back to features.
EXPECTED_RANKING = "embedding" if (paths.models_dir() / "retrieval" / "text_encoder.json").exists() else "features"


def _run(*args):
    result = CliRunner().invoke(main, [*map(str, args)])
    assert result.exit_code == 0, result.output
    return result


def test_index_search_stats_report_and_export(tmp_path, library_dir):
    db = tmp_path / "db"
    write_bad_files(library_dir / "bad")
    out = json.loads(_run("index", library_dir, "--db", db, "--workers", "1", "--json").stdout)
    assert out["added"] > 0 and {Path(s["path"]).name for s in out["skipped"]} >= {"empty.mid", "random.mid"}

    text = _run("index", "--db", db, "--report").stdout
    assert "empty.mid" in text and "skipped" in text and "unchanged" in text

    res = json.loads(_run("search", "chorale in D major", "--db", db, "-k", "3", "--json").stdout)
    assert res["schema_version"] == SEARCH_SCHEMA_VERSION and res["ranking"] == EXPECTED_RANKING
    assert res["constraints"]["key"] == "D major" and len(res["hits"]) == 3
    # The documented schema (docs/library.md); a change here needs SEARCH_SCHEMA_VERSION bumped.
    assert set(res) == {"schema_version", "query", "ranking", "constraints", "windows_searched", "warnings", "hits"}
    assert set(res["query"]) == {"text", "k", "key", "mode", "tempo", "meter", "instrument", "min_bars", "like"}
    hit = res["hits"][0]
    assert set(hit) == {
        "file", "bars", "seconds", "quarters", "score", "key", "tempo", "tempo_word", "meter", "instruments",
        "matched", "missed", "transpose",
    }  # fmt: skip

    export = tmp_path / "out"
    res = json.loads(_run("search", "--like", hit["file"], "--bars", "1-4", "--db", db, "-k", "2", "--export", export,
                          "--json").stdout)  # fmt: skip
    assert all(h["file"] != hit["file"] for h in res["hits"])
    assert len(res["exported"]) == 2 and all(len(load_midi(p).notes) for p in res["exported"])

    res = json.loads(_run("search", "anything", "--meter", "6/8", "--db", db, "--json").stdout)
    assert res["hits"] and all(h["meter"] == "6/8" for h in res["hits"])

    stats = json.loads(_run("library", "stats", "--db", db, "--json").stdout)
    assert stats["files"] == out["added"] and stats["skipped"] == len(out["skipped"]) and stats["keys"]
    issues = json.loads(_run("library", "report", "--db", db, "--json").stdout)["issues"]
    assert len(issues) == len(out["skipped"]) + len(out["capped"])
    human = _run("search", "in D major", "--db", db, "-k", "2").stdout
    assert "D major" in human and f"ranking: {EXPECTED_RANKING}" in human


def test_errors_are_one_line_click_errors(tmp_path):
    for args in (["search"], ["search", "x", "--key", "H# foo"], ["search", "x", "--bars", "1-2"]):
        result = CliRunner().invoke(main, [*args, "--db", str(tmp_path / "db")])
        assert result.exit_code != 0 and "Traceback" not in result.output


def test_db_from_environment(tmp_path, library_dir, monkeypatch):
    monkeypatch.setenv("MIDIBRIDGE_DB", str(tmp_path / "envdb"))
    _run("index", library_dir, "--workers", "1")
    assert (tmp_path / "envdb" / "library.sqlite").exists()
    assert json.loads(_run("library", "stats", "--json").stdout)["files"] > 0


def test_search_works_with_zero_configuration(tmp_path, library_dir, monkeypatch):
    """No `index` ever run, no --db: the bundled clips are indexed into the default db on first use."""
    from bridge import paths

    monkeypatch.setattr(paths, "bundled_library_dir", lambda: library_dir)
    res = json.loads(_run("search", "chorale", "--json").stdout)
    assert res["hits"] and res["hits"][0]["file"].startswith(str(library_dir))
    assert (paths.default_db_path() / "library.sqlite").exists()
