"""The journal holds prompts and signed video links: only its owner may read it."""

from __future__ import annotations

import os
import sqlite3
import stat
import sys
from pathlib import Path

import pytest

from sora_nb.journal import ENV_DATA_DIR, Journal
from sora_nb.models import Job

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="POSIX permission bits (Windows uses ACLs)"
)

BASE = "https://relay.example/v1"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask():
    # The usual desktop umask: without care, files come out 0644 and folders 0755.
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def use(journal: Journal) -> None:
    journal.record(BASE, Job("video_1", "queued", "openai", prompt="a secret idea"))
    journal.update(BASE, Job("video_1", "completed", "openai", video_url="https://cdn/x?sig=1"))
    assert journal.get("video_1").status == "completed"


def test_default_folder_and_file_are_private(tmp_path, monkeypatch):
    folder = tmp_path / "data" / "sora_nb"
    monkeypatch.setenv(ENV_DATA_DIR, str(folder))
    journal = Journal()
    use(journal)
    assert journal.path == folder / "jobs.sqlite3"
    assert mode(folder) == 0o700
    assert mode(journal.path) == 0o600


def test_file_given_by_path_is_private(tmp_path):
    path = tmp_path / "new-folder" / "journal.sqlite3"
    journal = Journal(path)
    use(journal)
    assert mode(path.parent) == 0o700
    assert mode(path) == 0o600


def test_side_files_are_private_too(tmp_path):
    # A WAL-mode journal (someone's tuning, or a future version) keeps -wal and -shm files.
    path = tmp_path / "j" / "jobs.sqlite3"
    journal = Journal(path)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
    reader = sqlite3.connect(path)  # an open connection keeps the side files in place
    try:
        reader.execute("SELECT COUNT(*) FROM jobs").fetchone()
        use(journal)
        side = [p for p in path.parent.iterdir() if p != path]
        assert any(p.name.endswith("-wal") for p in side), side
        for p in side:
            assert mode(p) == 0o600, (p.name, oct(mode(p)))
    finally:
        reader.close()
    # And the rollback journal, while a transaction is open.
    path2 = tmp_path / "k" / "jobs.sqlite3"
    Journal(path2)
    db = sqlite3.connect(path2, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO jobs VALUES ('b', 'i', 'd', NULL, NULL, '{}', 's', NULL, NULL, "
            "NULL, NULL, 0, 0)"
        )
        rollback = path2.parent / "jobs.sqlite3-journal"
        assert rollback.exists()
        assert mode(rollback) == 0o600
    finally:
        db.execute("ROLLBACK")
        db.close()


def test_an_existing_readable_journal_is_made_private(tmp_path):
    # Journals written by earlier versions were 0644.
    path = tmp_path / "old" / "jobs.sqlite3"
    path.parent.mkdir()
    sqlite3.connect(path).close()
    path.chmod(0o644)
    use(Journal(path))
    assert mode(path) == 0o600


def test_an_existing_folder_keeps_its_mode(tmp_path):
    # A folder sora_nb did not create is the user's: it is not changed.
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    journal = Journal(folder / "jobs.sqlite3")
    use(journal)
    assert mode(folder) == 0o755
    assert mode(journal.path) == 0o600
