"""Login throttling: after LOGIN_THROTTLE_ATTEMPTS failures from one address or for one username within
LOGIN_THROTTLE_WINDOW seconds, further attempts are refused, even with the right password, until the
window passes. Counts live in the shared cache, so every gunicorn worker sees them.
"""
import hashlib

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver


def _client_address(request):
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


def _keys(request, username):
    keys = []
    address = _client_address(request)
    if address:
        keys.append("login-failures:ip:" + address)
    if username:
        digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()
        keys.append("login-failures:user:" + digest)
    return keys


def is_locked_out(request, username):
    return any((cache.get(key) or 0) >= settings.LOGIN_THROTTLE_ATTEMPTS for key in _keys(request, username))


@receiver(user_login_failed)
def _count_failure(sender, credentials, request=None, **kwargs):
    for key in _keys(request, credentials.get("username")):
        cache.add(key, 0, settings.LOGIN_THROTTLE_WINDOW)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, settings.LOGIN_THROTTLE_WINDOW)


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if is_locked_out(request, username):
            # PermissionDenied stops Django trying other backends, and it sends user_login_failed.
            raise PermissionDenied("Too many failed logins; try again later.")
        return super().authenticate(request, username=username, password=password, **kwargs)
