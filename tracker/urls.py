from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path


def healthz(request):
    """For load balancers and the benchmark's baseline: answers without touching the database."""
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("tracker.api.urls")),
    path("", include("tracker.site.urls")),
]
