"""The diff between a walk and the index decides everything an incremental run does."""

from bridge.library.indexer import plan_run
from bridge.library.walker import FileStat

ROOT = "/music"


def _walk(**files):
    return {f"{ROOT}/{name}": FileStat(f"{ROOT}/{name}", size, mtime) for name, (size, mtime) in files.items()}


def _run(walked, indexed, skipped=None, hashes=None):
    hashes = hashes or {}
    return plan_run(walked, indexed, skipped or {}, [ROOT], hasher=lambda p: hashes[p], exists=lambda p: p == ROOT)


def test_unchanged_files_are_not_reopened():
    walked = _walk(**{"a.mid": (10, 1)})
    plan = _run(walked, {f"{ROOT}/a.mid": (1, 10, 1, "h1")})
    assert plan.unchanged == 1 and not plan.analyse and not plan.restat and not plan.remove


def test_rename_is_recognised_by_content_hash():
    walked = _walk(**{"b.mid": (10, 2)})
    plan = _run(walked, {f"{ROOT}/a.mid": (7, 10, 1, "h1")}, hashes={f"{ROOT}/b.mid": "h1"})
    assert plan.restat == [(7, f"{ROOT}/b.mid", walked[f"{ROOT}/b.mid"])]
    assert not plan.analyse and not plan.remove


def test_touched_file_with_same_content_is_only_restatted():
    walked = _walk(**{"a.mid": (10, 5)})
    plan = _run(walked, {f"{ROOT}/a.mid": (3, 10, 1, "h1")}, hashes={f"{ROOT}/a.mid": "h1"})
    assert [r[0] for r in plan.restat] == [3] and not plan.analyse


def test_changed_new_and_deleted_files():
    walked = _walk(**{"a.mid": (11, 5), "new.mid": (4, 1)})
    indexed = {f"{ROOT}/a.mid": (1, 10, 1, "h1"), f"{ROOT}/gone.mid": (2, 5, 1, "h2")}
    plan = _run(walked, indexed, hashes={f"{ROOT}/a.mid": "h1b", f"{ROOT}/new.mid": "h3"})
    assert plan.analyse == [f"{ROOT}/a.mid", f"{ROOT}/new.mid"]
    assert plan.remove == [f"{ROOT}/gone.mid"]


def test_unchanged_bad_file_is_not_retried_but_a_fixed_one_is():
    walked = _walk(**{"bad.mid": (0, 1), "fixed.mid": (100, 9)})
    skipped = {f"{ROOT}/bad.mid": (0, 1, "empty file"), f"{ROOT}/fixed.mid": (0, 1, "empty file")}
    plan = _run(walked, {}, skipped, hashes={f"{ROOT}/fixed.mid": "h9"})
    assert plan.unchanged == 1 and plan.analyse == [f"{ROOT}/fixed.mid"]


def test_files_outside_the_walked_roots_stay_if_they_exist():
    plan = plan_run({}, {"/other/x.mid": (1, 1, 1, "h")}, {}, [ROOT], hasher=str, exists=lambda p: True)
    assert plan.remove == []


def test_files_of_a_missing_folder_are_kept():
    """An unmounted drive must not wipe its part of the index."""
    indexed = {f"{ROOT}/a.mid": (1, 10, 1, "h1")}
    plan = plan_run({}, indexed, {}, [ROOT], hasher=str, exists=lambda p: False)
    assert plan.remove == []
