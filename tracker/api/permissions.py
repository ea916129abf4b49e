import logging

from django.core.cache import caches
from rest_framework import permissions, throttling

from tracker.commitments import selectors, services

logger = logging.getLogger(__name__)
is_staff_reader = selectors.can_see_drafts  # editors and reviewers, who may view drafts


class ReadOrEditorWrite(permissions.DjangoModelPermissionsOrAnonReadOnly):
    """Anyone reads; writing needs the model's add/change permission (the Editors group)."""

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return True  # without building the view's queryset just to learn its model
        return super().has_permission(request, view)


class ReadOnly(permissions.BasePermission):
    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS


class CanPublish(permissions.BasePermission):
    message = "Only reviewers may publish or unpublish pledges."

    def has_permission(self, request, view):
        return services.can_publish(request.user)


class AnonThrottle(throttling.AnonRateThrottle):
    """Counts anonymous requests per address in fixed windows (e.g. each minute), in the "throttle" cache.

    DRF's own throttle keeps and re-pickles a log of every request time in the window; a counter costs the
    same however busy the client is. With REDIS_URL every worker and server counts in Redis, so the limit holds
    across them; without it each worker process counts separately (the limit is the rate times the workers).
    A throttle cache that fails lets the request through: throttling protects the service, it must not stop it.
    """

    @property
    def cache(self):
        return caches["throttle"]

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        if ident is None:  # authenticated callers are not throttled here
            return True
        now = self.timer()
        window = int(now // self.duration)
        key = f"{ident}:{window}"
        try:
            count = self._count(key)
        except Exception:  # noqa: BLE001 - any backend's failure (Redis down, network)
            logger.warning("The throttle cache failed; letting the request through.", exc_info=True)
            return True
        self.wait_seconds = (window + 1) * self.duration - now
        return count <= self.num_requests

    def _count(self, key):
        self.cache.add(key, 0, self.duration)
        try:
            return self.cache.incr(key)
        except ValueError:  # expired between add and incr
            self.cache.set(key, 1, self.duration)
            return 1

    def wait(self):
        return max(1, self.wait_seconds)
