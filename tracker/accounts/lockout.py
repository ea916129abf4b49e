"""Login lockouts: django-axes counts failed logins per client address and per username and locks either out for
LOGIN_THROTTLE_WINDOW seconds after LOGIN_THROTTLE_ATTEMPTS failures; the client's address is read from
X-Forwarded-For behind TRUSTED_PROXIES proxies (settings), so one proxy's address is never everybody's.

Axes checks the count before a password is checked and records a failure after, so concurrent wrong attempts could
all pass the check. LoginGateBackend closes that gap: while a login's transaction is open (the admin's login form
runs in one), it holds a row lock per username and per address, so attempts for either are checked one at a time and
each sees the failures recorded before it: never more password checks than the limit allows.
"""
from axes.helpers import get_client_ip_address
from django.db import connection

from .models import LoginGate


def gate_keys(request, username):
    keys = []
    address = get_client_ip_address(request) if request is not None else None
    if address:
        keys.append(f"ip:{address}"[:200])
    if username:
        keys.append(f"user:{username.strip().casefold()}"[:200])
    return sorted(keys)  # always locked in the same order: two attempts never wait for each other in a circle


class LoginGateBackend:
    """Authenticates nobody: it takes the locks, and the backends after it (axes, then the password) do the rest.

    No get_user (like axes' own backend): a session is never attributed to it, so Django's test client and anything
    else that picks "the first backend that can load users" skips it.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if not connection.in_atomic_block:
            return None
        keys = gate_keys(request, username)
        if keys:
            LoginGate.objects.bulk_create([LoginGate(key=key) for key in keys], ignore_conflicts=True)
            list(LoginGate.objects.select_for_update().filter(key__in=keys).order_by("key"))
        return None
