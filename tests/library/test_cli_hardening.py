"""Issue 12, library side: every bad input gets one clear line, nothing silent, no fault loses data.

All through the CLI (click's runner, or a real subprocess where a signal is involved) on real files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hostile_files import (
    alive,
    descendants,
    overwrite_pages,
    write_many_tracks,
    write_repeated_absurd_tempo,
)
from library_helpers import copy_good_files

from bridge.cli.main import main


def _invoke(*args, env=None):
    return CliRunner().invoke(main, [*map(str, args)], env=env)


def _ok(*args, env=None):
    result = _invoke(*args, env=env)
    assert result.exit_code == 0, result.output
    return result


def _one_line_error(result, *words):
    """exit 1, no traceback, exactly one non-empty line, naming `words`."""
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def indexed(tmp_path, library_dir) -> Path:
    db = tmp_path / "db"
    _ok("index", library_dir, "--db", db, "--workers", "1", "--no-embed")
    return db


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- --db must exist (only `index` creates one) ------------------------------------------------------------


def test_a_missing_db_is_an_error_naming_the_path(tmp_path):
    typo = tmp_path / "typo" / "path"
    for cmd in (["search", "chorale"], ["library", "stats"], ["library", "report"], ["search", "x", "--json"]):
        _one_line_error(_invoke(*cmd, "--db", typo), str(typo), "no library index")
        assert not typo.exists() and not typo.parent.exists()  # nothing created, nothing indexed into it
    empty = tmp_path / "empty"
    empty.mkdir()
    _one_line_error(_invoke("search", "chorale", "--db", empty), str(empty), "library.sqlite")
    assert list(empty.iterdir()) == []


def test_index_still_creates_a_new_db(tmp_path, library_dir):
    db = tmp_path / "new" / "db"
    _ok("index", library_dir, "--db", db, "--workers", "1", "--no-embed")
    assert json.loads(_ok("library", "stats", "--db", db, "--json").stdout)["files"] > 0


# ---- say why a search found nothing ----------------------------------------------------------------------


def test_no_matches_names_the_constraint_that_excluded_everything(indexed):
    out = _ok("search", "piano", "--tempo", "200-250", "--db", indexed).stdout
    assert "is the library indexed" not in out
    assert "--tempo 200-250" in out and "excludes all" in out and "BPM" in out, out

    res = json.loads(_ok("search", "piano", "--tempo", "200-250", "--db", indexed, "--json").stdout)
    assert not res["hits"] and any("--tempo 200-250" in w for w in res["warnings"]), res["warnings"]

    out = _ok("search", "x", "--instrument", "violin", "--db", indexed).stdout
    assert "--instrument 'violin'" in out and "Acoustic Grand Piano" in out, out  # what the library does hold

    # Each filter alone matches (3/4 exists, 180 BPM exists) but no window has both.
    out = _ok("search", "x", "--meter", "3/4", "--tempo", "170-190", "--db", indexed).stdout
    assert "--meter '3/4'" in out and "--tempo 170-190" in out and "together" in out, out


def test_text_with_like_says_how_the_text_is_used(indexed, library_dir):
    example = library_dir / "tune_6-8_1.mid"
    res = json.loads(_ok("search", "sad", "--like", example, "--db", indexed, "--json").stdout)
    note = [w for w in res["warnings"] if "--like" in w]
    assert note and "'sad'" in note[0] and "not used" in note[0], res["warnings"]

    res = json.loads(_ok("search", "waltz in D major", "--like", example, "--db", indexed, "--json").stdout)
    note = [w for w in res["warnings"] if "--like" in w]
    assert note and "D major" in note[0] and "3/4" in note[0], res["warnings"]
    human = _ok("search", "sad", "--like", example, "--db", indexed)
    assert "'sad'" in human.output and "not used" in human.output


# ---- tables --------------------------------------------------------------------------------------------


def test_stats_table_shows_instruments_as_the_json_does(indexed):
    stats = json.loads(_ok("library", "stats", "--db", indexed, "--json").stdout)
    assert stats["instruments"]
    text = _ok("library", "stats", "--db", indexed).stdout
    line = next(line for line in text.splitlines() if line.startswith("instruments"))
    for name, count in stats["instruments"].items():
        assert f"{name} {count}" in line


def test_search_table_keeps_file_names_whole_in_80_columns(tmp_path, library_dir):
    long_name = "a_rather_long_file_name_of_a_tune.mid"
    shutil.copy(library_dir / "chorale_bwv104_6.mid", library_dir / long_name)
    db = tmp_path / "db"
    _ok("index", library_dir, "--db", db, "--workers", "1", "--no-embed")
    hits = json.loads(_ok("search", "chorale", "-k", "20", "--db", db, "--json").stdout)["hits"]
    names = {Path(h["file"]).name for h in hits}
    assert long_name in names and any(len(n) >= 20 for n in names)
    out = _ok("search", "chorale", "-k", "20", "--db", db, env={"COLUMNS": "80"}).stdout
    assert all(len(line) <= 80 for line in out.splitlines()), out
    for n in names:
        assert n in out, f"{n} is not readable in:\n{out}"


# ---- warnings once per file ----------------------------------------------------------------------------


def test_a_warning_repeated_in_a_file_is_reported_once(tmp_path, library_dir):
    write_repeated_absurd_tempo(library_dir / "slow.mid")
    db = tmp_path / "db"
    _ok("index", library_dir, "--db", db, "--workers", "1", "--no-embed")
    issues = json.loads(_ok("library", "report", "--db", db, "--json").stdout)["issues"]
    slow = [i for i in issues if Path(i["path"]).name == "slow.mid"]
    assert len(slow) == 1 and slow[0]["reason"].count("absurd tempo") == 1 and "6 times" in slow[0]["reason"]
    text = _ok("index", "--db", db, "--report").stdout
    assert text.count("absurd tempo") == 1


# ---- one hostile file never stops a run ------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_a_file_with_32768_tracks_does_not_stop_the_run(tmp_path, library_dir, workers):
    write_many_tracks(library_dir / "a_many_tracks.mid")  # sorts first: good files come after it
    db = tmp_path / "db"
    out = json.loads(_ok("index", library_dir, "--db", db, "--workers", workers, "--no-embed", "--json").stdout)
    good = len(list(library_dir.glob("*.mid"))) - 1
    assert out["added"] >= good
    reported = {Path(i["path"]).name: i["reason"] for i in out["skipped"] + out["capped"]}
    assert "tracks" in reported["a_many_tracks.mid"], reported
    report = _ok("library", "report", "--db", db).stdout
    assert "a_many_tracks.mid" in report


@pytest.mark.parametrize("workers", [1, 2])
def test_an_unexpected_error_reading_one_file_skips_it_with_the_reason(tmp_path, library_dir, workers):
    db = tmp_path / "db"
    env = {"MIDIBRIDGE_INDEX_TEST_RAISE_ON": "chorale_bwv10_7.mid"}
    out = json.loads(
        _ok("index", library_dir, "--db", db, "--workers", workers, "--no-embed", "--json", env=env).stdout
    )
    skipped = {Path(i["path"]).name: i["reason"] for i in out["skipped"]}
    assert "OverflowError" in skipped["chorale_bwv10_7.mid"], skipped
    assert out["added"] == len(list(library_dir.glob("*.mid"))) - 1
    assert "chorale_bwv10_7.mid" in _ok("library", "report", "--db", db).stdout


# ---- SIGKILL of `index`: its workers go too ----------------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_a_killed_index(tmp_path):
    lib = tmp_path / "midi"
    first = copy_good_files(lib)
    for i in range(30):
        shutil.copy(first[i % len(first)], lib / f"copy_{i:02d}.mid")
    env = dict(os.environ, MIDIBRIDGE_INDEX_TEST_DELAY="0.5")
    cmd = [sys.executable, "-m", "bridge", "index", str(lib), "--db", str(tmp_path / "db"), "--workers", "2"]
    proc = subprocess.Popen([*cmd, "--no-embed", "--json"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    helpers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # resource tracker, forkserver and both workers
            helpers = descendants(proc.pid)
            if len(helpers) >= 4:
                break
            assert proc.poll() is None, "index finished before its workers could be seen"
            time.sleep(0.1)
        assert len(helpers) >= 4, helpers
        os.kill(proc.pid, signal.SIGKILL)  # the parent only, as the OOM killer or `kill -9 PID` would
        proc.wait()
        deadline = time.monotonic() + 30  # before the fix they stay for good
        while alive(helpers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(helpers), f"left behind: {alive(helpers)}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in alive(helpers):
            os.kill(pid, signal.SIGKILL)


# ---- a damaged index: one line, and nothing touched ------------------------------------------------------


def test_a_damaged_index_gives_one_line_and_is_left_untouched(indexed, library_dir):
    db_file = indexed / "library.sqlite"
    overwrite_pages(db_file)
    before = _sha(db_file)
    for cmd in (
        ["search", "chorale"],
        ["search", "chorale", "--json"],
        ["library", "stats"],
        ["library", "report"],
        ["index"],
        ["index", library_dir, "--no-embed"],
    ):
        line = _one_line_error(_invoke(*cmd, "--db", indexed), str(db_file), "damaged")
        assert "move or delete" in line
        assert _sha(db_file) == before, f"{cmd} changed the index"


def test_an_empty_index_file_is_not_silently_rebuilt(tmp_path, library_dir):
    db = tmp_path / "db"
    db.mkdir()
    (db / "library.sqlite").write_bytes(b"")
    for cmd in (["search", "chorale"], ["library", "stats"], ["index"], ["index", library_dir, "--no-embed"]):
        _one_line_error(_invoke(*cmd, "--db", db), "library.sqlite", "empty")
        assert (db / "library.sqlite").stat().st_size == 0
    assert sorted(p.name for p in db.iterdir()) == ["library.sqlite"]


# ---- the library boundary --------------------------------------------------------------------------------


def test_the_indexer_refuses_links_out_of_the_library(tmp_path, library_dir):
    outside = tmp_path / "private"
    outside.mkdir()
    secret = outside / "secret.mid"
    shutil.copy(library_dir / "tune_6-8_1.mid", secret)
    (library_dir / "tune_6-8_1.mid").unlink()  # the secret's content is nowhere in the library
    (library_dir / "link_out.mid").symlink_to(secret)
    (library_dir / "link_in.mid").symlink_to(library_dir / "chorale_bwv1_6.mid")  # inside: fine
    db = tmp_path / "db"
    out = json.loads(_ok("index", library_dir, "--db", db, "--workers", "1", "--no-embed", "--json").stdout)
    skipped = {Path(i["path"]).name: i["reason"] for i in out["skipped"]}
    assert "outside" in skipped["link_out.mid"], skipped
    res = json.loads(_ok("search", "tune in 6/8", "-k", "100", "--db", db, "--json").stdout)
    files = {h["file"] for h in res["hits"]}
    assert files and not any(f.startswith(str(outside)) for f in files), files
    # A second run leaves the refusal as it is (reported, not re-counted) and still keeps the target out.
    again = json.loads(_ok("index", "--db", db, "--no-embed", "--json").stdout)
    assert again["skipped_new"] == 0 and "link_out.mid" in {Path(i["path"]).name for i in again["skipped"]}
    assert str(secret) not in _ok("library", "report", "--db", db, "--json").stdout.replace(f"a link to {secret}", "")
    # Once its folder is indexed too, a link into it is inside the library (and the file is indexed from there).
    _ok("index", outside, "--db", db, "--no-embed")
    third = json.loads(_ok("index", library_dir, "--db", db, "--no-embed", "--json").stdout)
    assert "link_out.mid" not in {Path(i["path"]).name for i in third["skipped"]}
    res = json.loads(_ok("search", "tune in 6/8", "-k", "100", "--db", db, "--json").stdout)
    assert str(secret) in {h["file"] for h in res["hits"]}


def test_export_never_writes_through_a_planted_symlink(tmp_path, indexed):
    from bridge.library.export import hit_filename
    from bridge.library.types import Hit

    hits = json.loads(_ok("search", "chorale", "-k", "2", "--db", indexed, "--json").stdout)["hits"]
    out = tmp_path / "export"
    out.mkdir()
    victims = []
    for rank, h in enumerate(hits, start=1):
        hit = Hit(h["file"], h["bars"][0], h["bars"][1], 0, 0, 0, "", 0, "", ())
        name = hit_filename(rank, hit)
        for planted in (name + ".tmp", name):
            victim = tmp_path / f"victim_{rank}_{planted}.txt"
            victim.write_text("precious")
            (out / planted).symlink_to(victim)
            victims.append(victim)
    res = json.loads(_ok("search", "chorale", "-k", "2", "--db", indexed, "--export", out, "--json").stdout)
    assert len(res["exported"]) == 2
    for v in victims:
        assert v.read_text() == "precious", f"{v} was written through a symlink"
    for p in res["exported"]:
        assert not Path(p).is_symlink() and Path(p).read_bytes()[:4] == b"MThd"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left behind
