import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db
LOGIN = reverse("admin:login")


def attempt(client, password, username="alice", address="203.0.113.7"):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"},
                       REMOTE_ADDR=address)


def test_admin_login_works_with_the_right_password(client, alice):
    assert attempt(client, "correct horse battery").status_code == 302


def test_after_five_failures_even_the_right_password_is_refused_with_a_clear_message(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = settings.LOGIN_THROTTLE_ATTEMPTS = 5
    for _ in range(4):
        assert attempt(client, "wrong").status_code == 200
    assert attempt(client, "wrong").status_code == 429  # the fifth locks it out
    response = attempt(client, "correct horse battery")
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode() and "15 minutes" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_throttle_counts_per_account_across_addresses(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = settings.LOGIN_THROTTLE_ATTEMPTS = 3
    for n in range(3):
        attempt(client, "wrong", address=f"198.51.100.{n}")
    assert "Too many failed logins" in attempt(client, "correct horse battery", address="192.0.2.1").content.decode()


def test_other_accounts_from_other_addresses_are_not_locked_out(client, alice, rita, settings):
    settings.AXES_FAILURE_LIMIT = settings.LOGIN_THROTTLE_ATTEMPTS = 3
    for _ in range(3):
        attempt(client, "wrong")
    assert attempt(client, "correct horse battery", username="rita", address="192.0.2.9").status_code == 302


def test_the_lock_lasts_the_documented_window_and_no_longer(client, alice, settings):
    from axes.models import AccessAttempt

    for _ in range(settings.LOGIN_THROTTLE_ATTEMPTS):
        attempt(client, "wrong")
    window = datetime.timedelta(seconds=settings.LOGIN_THROTTLE_WINDOW)
    AccessAttempt.objects.update(attempt_time=timezone.now() - window + datetime.timedelta(seconds=30))
    assert "Too many failed logins" in attempt(client, "correct horse battery").content.decode()
    AccessAttempt.objects.update(attempt_time=timezone.now() - window - datetime.timedelta(seconds=1))
    assert attempt(client, "correct horse battery").status_code == 302


def test_behind_a_proxy_each_visitor_is_counted_at_their_own_address(client, alice, rita, settings):
    """With the proxy the README recommends, every request comes from the proxy's address: counting that address
    would let five bad logins by anyone lock out every editor."""
    settings.AXES_IPWARE_PROXY_COUNT = 1
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    proxy = "10.0.0.2"
    for _ in range(settings.LOGIN_THROTTLE_ATTEMPTS):
        client.post(LOGIN, {"username": "mallory", "password": "guess", "next": "/admin/"}, REMOTE_ADDR=proxy,
                    HTTP_X_FORWARDED_FOR="198.51.100.66")
    response = client.post(LOGIN, {"username": "rita", "password": "correct horse battery", "next": "/admin/"},
                           REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.44")  # a forged first entry
    assert response.status_code == 302
    locked = client.post(LOGIN, {"username": "alice", "password": "correct horse battery", "next": "/admin/"},
                         REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="198.51.100.66")
    assert "Too many failed logins" in locked.content.decode()  # the address that failed is locked out


@pytest.mark.django_db(transaction=True)
def test_concurrent_wrong_attempts_get_no_more_password_checks_than_the_limit(alice, settings):
    from concurrent.futures import ThreadPoolExecutor

    from axes.models import AccessAttempt
    from django.db import connection, connections
    from django.test import RequestFactory

    from tracker.accounts.admin import LockoutAdminAuthenticationForm

    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writing transaction at a time: attempts cannot overlap there")

    def try_once(n):
        try:
            request = RequestFactory().post(LOGIN, REMOTE_ADDR=f"198.51.100.{n}")
            form = LockoutAdminAuthenticationForm(request, data={"username": "alice", "password": "wrong"})
            return form.is_valid()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert not any(pool.map(try_once, range(40)))
    # Only attempts whose password was checked are recorded, each as one failure.
    checked = sum(AccessAttempt.objects.filter(username="alice").values_list("failures_since_start", flat=True))
    assert checked == settings.LOGIN_THROTTLE_ATTEMPTS
