import io
import re

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_editors_and_reviewers_groups_exist_after_migrate():
    editors = set(Group.objects.get(name="Editors").permissions.values_list("codename", flat=True))
    reviewers = set(Group.objects.get(name="Reviewers").permissions.values_list("codename", flat=True))
    assert {"add_pledge", "change_pledge", "add_source", "change_coalition", "add_statusevent"} <= editors
    assert "publish_pledge" not in editors
    assert reviewers == editors | {"publish_pledge"}
    assert "delete_pledge" not in reviewers  # deleting pledges is for superusers


def test_create_account_makes_a_staff_reviewer_who_can_log_in(client, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough passphrase\n"))
    out = io.StringIO()
    call_command("create_account", "rita", "--role", "reviewer", "--email", "rita@example.org", stdout=out)
    assert "Created reviewer account" in out.getvalue()
    rita = User.objects.get(username="rita")
    assert rita.is_staff and not rita.is_superuser
    assert rita.has_perm("commitments.publish_pledge")
    response = client.post("/admin/login/", {"username": "rita", "password": "a long enough passphrase",
                                             "next": "/admin/"})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(rita.pk)


def test_create_account_can_change_a_role_and_refuses_a_weak_password(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough passphrase\n"))
    call_command("create_account", "alice", "--role", "reviewer", stdout=io.StringIO())
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough passphrase\n"))
    call_command("create_account", "alice", "--role", "editor", stdout=io.StringIO())
    alice = User.objects.get(username="alice")
    assert list(alice.groups.values_list("name", flat=True)) == ["Editors"]
    assert not alice.has_perm("commitments.publish_pledge")

    monkeypatch.setattr("sys.stdin", io.StringIO("123\n"))
    with pytest.raises(CommandError, match="Password refused"):
        call_command("create_account", "bob", "--role", "editor", stdout=io.StringIO())
    assert not User.objects.filter(username="bob").exists()


def test_first_accounts_prints_an_editor_and_a_reviewer_login_once_on_a_developers_machine(client, settings):
    settings.DEBUG = True
    out = io.StringIO()
    call_command("first_accounts", stdout=out)
    logins = dict(re.findall(r"login: (\w+) / (\S+)", out.getvalue()))
    assert set(logins) == {"editor", "reviewer"}
    response = client.post("/admin/login/", {"username": "editor", "password": logins["editor"], "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert User.objects.get(username="reviewer").has_perm("commitments.publish_pledge")
    assert not User.objects.get(username="editor").has_perm("commitments.publish_pledge")

    again = io.StringIO()
    call_command("first_accounts", stdout=again)
    assert "login:" not in again.getvalue()
    assert User.objects.get(username="editor").check_password(logins["editor"])  # the password was not changed


def test_first_accounts_creates_nothing_in_production(settings):
    settings.DEBUG = False
    call_command("first_accounts", stdout=io.StringIO())
    assert not User.objects.filter(username__in=["editor", "reviewer"]).exists()


def test_every_link_in_the_readme_resolves_inside_the_repository():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    links = re.findall(r"\]\(([^)#\s]+)\)", (root / "README.md").read_text())
    local = [link for link in links if not re.match(r"[a-z]+://", link)]
    assert local, "the README links to docs"
    assert [link for link in local if not (root / link).resolve().is_relative_to(root) or not (root / link).exists()
            ] == []
