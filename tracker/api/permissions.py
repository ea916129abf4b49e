from django.core.cache import caches
from rest_framework import permissions, throttling

from tracker.commitments import services


def is_staff_reader(user):
    """Editors and reviewers (who may view drafts); everyone else is a reader."""
    return bool(user and user.is_authenticated and user.is_active and user.has_perm("commitments.view_pledge"))


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
    """Counts anonymous requests in process memory: no database round trip on every read. Each worker
    process counts separately, so the effective limit is the rate times the number of workers."""

    cache = caches["throttle"]
