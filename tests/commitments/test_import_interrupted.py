"""An import killed half-way through its writes leaves the database as it was (the issue's all-or-nothing rule).

The import runs as `manage.py import_pledges` in its own process against a real database; the test kills it with
SIGKILL well into its writes (PostgreSQL: while it inserts rows, inside a transaction that has written; SQLite:
once its rollback journal holds 64 KiB of changed pages), then looks at what is left.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from tests.commitments.test_imports import pledge_row, template_csv

ROOT = Path(__file__).resolve().parents[2]
ROWS = 4000


def _env(database_url):
    return {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "tracker.settings"}


def _manage(database_url, *args, **kwargs):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=_env(database_url), check=True,
                          capture_output=True, text=True, **kwargs)


def _postgres_url():
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD'] or ''}@{s['HOST'] or 'localhost'}:{s['PORT'] or 5432}/{s['NAME']}"


def _writing_postgres():
    """Whether another session of this database is inserting pledge rows, inside a transaction that has written."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL "
                       "AND query LIKE 'INSERT INTO \"commitments_%%'")
        return cursor.fetchone()[0] > 0


def _count(database_url, table):
    if database_url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:  # a hot journal is rolled back here
            return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
        return cursor.fetchone()[0]


@pytest.fixture
def database(request, tmp_path):
    """A database another process can use, with the editor alice: the test database itself on PostgreSQL
    (committed: the test is transactional), a fresh migrated file on SQLite (the test database is in memory)."""
    if connection.vendor == "postgresql":
        request.getfixturevalue("alice")
        return _postgres_url(), _writing_postgres
    url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    _manage(url, "migrate", "--no-input", "-v0")
    _manage(url, "create_account", "alice", "--role", "editor", input="alice-password-123\n")
    journal = tmp_path / "tracker.sqlite3-journal"

    def writing():  # the rollback journal holds the pages a transaction changed: many of them, by now
        try:
            return journal.stat().st_size > 64 * 1024
        except FileNotFoundError:
            return False

    return url, writing


@pytest.mark.django_db(transaction=True)
def test_an_import_killed_while_writing_leaves_the_database_as_it_was(database, tmp_path):
    url, writing = database
    path = tmp_path / "pledges.csv"
    path.write_bytes(template_csv([pledge_row(external_id=f"row-{n}", coalition="Coalition of the willing",
                                              nation_code="", nation=["France", "Germany", "Poland"][n % 3],
                                              sources=f"https://gov.example/{n % 7}", status="announced",
                                              status_on="2025-06-01", status_source=f"https://gov.example/{n % 7}")
                                   for n in range(ROWS)]))
    command = [sys.executable, "manage.py", "import_pledges", str(path), "--user", "alice", "--no-progress"]
    process = subprocess.Popen(command, cwd=ROOT, env=_env(url), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not writing():
        assert process.poll() is None, "the import ended before the test saw it write: " + str(process.communicate())
        assert time.monotonic() < deadline, "the import never started writing"
        time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL

    for table in ("commitments_pledge", "commitments_historicalpledge", "commitments_statusevent",
                  "commitments_pledge_sources", "commitments_source", "commitments_nation", "commitments_coalition"):
        assert _count(url, table) == 0, table

    # Nothing half-done stands in the way of running it again.
    out = _manage(url, "import_pledges", str(path), "--user", "alice", "--no-progress").stdout
    assert f"{ROWS} new" in out
    assert _count(url, "commitments_pledge") == ROWS


@pytest.mark.django_db(transaction=True)
def test_an_editor_saving_a_pledge_is_not_kept_waiting_by_a_large_import(database, tmp_path, alice):
    """The import takes the data version's lock (which every write takes) only as it ends: an editor's save while
    it writes goes through at once. SQLite allows one writer at a time, so this holds on PostgreSQL."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite allows one writer at a time: an editor's save waits for the import's writes")
    from django.contrib.auth.models import User

    from tests.factories import PledgeFactory
    from tracker.commitments import services

    url, writing = database
    pledge = PledgeFactory(description="Before the import")
    path = tmp_path / "pledges.csv"
    path.write_bytes(template_csv([pledge_row(external_id=f"row-{n}", nation_code="", nation="France",
                                              sources=f"https://gov.example/{n % 7}") for n in range(ROWS * 3)]))
    command = [sys.executable, "manage.py", "import_pledges", str(path), "--user", "alice", "--no-progress"]
    process = subprocess.Popen(command, cwd=ROOT, env=_env(url), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not writing():
        assert process.poll() is None, "the import ended before the test saw it write: " + str(process.communicate())
        assert time.monotonic() < deadline, "the import never started writing"
        time.sleep(0.001)
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '5s'")  # blocked, the save fails instead of waiting for the import
    pledge.description = "Saved while the import was writing"
    services.save_record(pledge, user=User.objects.get(username="alice"), reason="Editing during an import")
    assert process.poll() is None, "the import had finished: the save proves nothing"
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    pledge.refresh_from_db()
    assert pledge.description == "Saved while the import was writing"
    assert _count(url, "commitments_pledge") == ROWS * 3 + 1
