"""Named users, as in the product's design: Alice edits, Rita reviews, Sam is a superuser."""
import shutil

import pytest
from django.contrib.auth.models import Group, User

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
def _fresh_request_throttle():
    """API throttling counts in process memory; each test starts with a clean count."""
    from django.core.cache import caches

    caches["throttle"].clear()


def pytest_report_header(config):
    if not shutil.which("chromium"):
        return "!!! NO CHROMIUM FOUND: THE BROWSER TESTS WILL BE SKIPPED (make test installs Debian's chromium) !!!"
    return f"browser tests: {shutil.which('chromium')}"


def pytest_terminal_summary(terminalreporter):
    if not shutil.which("chromium"):
        terminalreporter.write_line("!!! BROWSER TESTS WERE SKIPPED: no chromium on this machine !!!",
                                    red=True, bold=True)
