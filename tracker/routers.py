"""Where queries go when PostgreSQL read replicas are configured (DATABASE_REPLICA_URLS).

The reads of an anonymous reader's GET go to a replica: they see published data, for which a replica's second or
so of lag is harmless. Everything else goes to the primary: writes, and every request of a logged-in editor or an
API caller with a key, so whoever has just written reads their own write. Without replicas, everything goes to the
primary.
"""
import random
from contextvars import ContextVar

from django.conf import settings

_anonymous_read = ContextVar("anonymous_read", default=False)


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if _anonymous_read.get() and settings.READ_REPLICAS:
            return random.choice(settings.READ_REPLICAS)  # noqa: S311 - spreading load, not a secret
        return "default"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # replicas hold the primary's data

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"


class AnonymousReadsMiddleware:
    """Marks the requests whose reads may go to a replica: GET or HEAD, no session login, no API key."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        anonymous = (request.method in ("GET", "HEAD") and "HTTP_AUTHORIZATION" not in request.META
                     and not request.user.is_authenticated)
        token = _anonymous_read.set(anonymous)
        try:
            return self.get_response(request)
        finally:
            _anonymous_read.reset(token)
