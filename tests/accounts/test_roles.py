import io

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
