"""Opening the index never drops this process's SQLite locks (a regression found while hardening, issue 12).

Closing any descriptor of the database file releases every POSIX lock the process holds on it. If opening
the index peeked at the file with open()/close(), another process closing its connection would checkpoint
and delete the WAL under our open connection, and our later commits would be lost to every other reader.
"""

from __future__ import annotations

import subprocess
import sys

from library_helpers import copy_good_files

from bridge.library import Library, store


def _generation_elsewhere(db) -> int:
    code = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
        "print(c.execute(\"SELECT value FROM meta WHERE key = 'generation'\").fetchone()[0]); c.close()"
    )
    out = subprocess.run([sys.executable, "-c", code, str(db / store.DB_NAME)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return int(out.stdout)


def test_commits_stay_visible_to_other_processes_while_connections_come_and_go(tmp_path):
    lib_dir = tmp_path / "midi"
    copy_good_files(lib_dir)
    db = tmp_path / "db"
    with Library.open(db) as lib:  # one connection stays open throughout, like a daemon's
        lib.index([lib_dir], workers=1)
        for _ in range(3):
            extra = store.connect(db)  # what every index run and every reader does meanwhile
            extra.close()
            _generation_elsewhere(db)  # another process opens and closes the index
            with store.Transaction(lib._conn):
                store.set_meta(lib._conn, "probe", "x")
            with lib._conn_lock:
                mine = store.generation(lib._conn)
            assert _generation_elsewhere(db) == mine
