"""Named users, as in the product's design: Alice edits, Rita reviews, Sam is a superuser; and the demo coalition."""
import shutil
import sys

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection

from tracker.accounts.roles import EDITORS, REVIEWERS


def _staff(username, group):
    user = User.objects.create_user(username, f"{username}@example.org", "correct horse battery", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def alice(db):
    """An editor: adds and changes everything, cannot publish."""
    return _staff("alice", EDITORS)


@pytest.fixture
def rita(db):
    """A reviewer: may also publish and unpublish."""
    return _staff("rita", REVIEWERS)


@pytest.fixture
def sam(db):
    return User.objects.create_superuser("sam", "sam@example.org", "correct horse battery")


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """API throttling counts, and each process's copy of summaries, live in memory: each test starts clean."""
    from django.core.cache import caches

    caches["throttle"].clear()
    caches["local"].clear()


@pytest.fixture(scope="session")
def _demo_rows():
    return {}


@pytest.fixture
def demo(db, _demo_rows):
    """The demo coalition (manage.py load_demo). Loaded through the services once per test session; later tests get
    a copy of the rows it wrote, which takes a fraction of the time."""
    models = list(apps.get_app_config("commitments").get_models(include_auto_created=True))
    if not _demo_rows:
        call_command("load_demo")
        for model in models:
            _demo_rows[model] = list(model.objects.order_by("pk").values())
        return
    for model in models:  # in the order the models are defined: pledges before the status events checking them
        rows = _demo_rows[model]
        if model._meta.model_name == "dataversion":  # its one row exists from the migrations on
            for row in rows:
                model.objects.update_or_create(pk=row["id"], defaults=row)
            continue
        model.objects.bulk_create([model(**row) for row in rows], batch_size=500)
    with connection.cursor() as cursor:  # ids were given: the sequences must move past them
        for statement in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(statement)


def pytest_report_header(config):
    if not shutil.which("chromium"):
        return "!!! NO CHROMIUM FOUND: THE BROWSER TESTS WILL BE SKIPPED (make test installs Debian's chromium) !!!"
    return f"browser tests: {shutil.which('chromium')}"


def pytest_terminal_summary(terminalreporter):
    fuzzed = sys.modules.get("tests.api.test_schema")
    if fuzzed is not None and any(fuzzed.CASES.values()):
        terminalreporter.write_line("schemathesis cases (all checks, valid and invalid data) per role: " + ", ".join(
            f"{role} {count:,}" for role, count in fuzzed.CASES.items()))
    if not shutil.which("chromium"):
        terminalreporter.write_line("!!! BROWSER TESTS WERE SKIPPED: no chromium on this machine !!!",
                                    red=True, bold=True)
