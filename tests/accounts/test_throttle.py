import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db
LOGIN = reverse("admin:login")


def attempt(client, password, username="alice", address="203.0.113.7"):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"},
                       REMOTE_ADDR=address)


def test_admin_login_works_with_the_right_password(client, alice):
    assert attempt(client, "correct horse battery").status_code == 302


def test_after_five_failures_even_the_right_password_is_refused_with_a_clear_message(client, alice, settings):
    settings.LOGIN_THROTTLE_ATTEMPTS = 5
    for _ in range(5):
        assert attempt(client, "wrong").status_code == 200
    response = attempt(client, "correct horse battery")
    assert response.status_code == 200
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_throttle_counts_per_account_across_addresses(client, alice, settings):
    settings.LOGIN_THROTTLE_ATTEMPTS = 3
    for n in range(3):
        attempt(client, "wrong", address=f"198.51.100.{n}")
    assert "Too many failed logins" in attempt(client, "correct horse battery", address="192.0.2.1").content.decode()


def test_other_accounts_from_other_addresses_are_not_locked_out(client, alice, rita, settings):
    settings.LOGIN_THROTTLE_ATTEMPTS = 3
    for _ in range(3):
        attempt(client, "wrong")
    assert attempt(client, "correct horse battery", username="rita", address="192.0.2.9").status_code == 302
