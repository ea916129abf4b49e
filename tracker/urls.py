from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from django.views import defaults


def healthz(request):
    """For load balancers and the benchmark's baseline: answers without touching the database."""
    return JsonResponse({"status": "ok"})


def not_found(request, exception):
    """API clients get their 404 as JSON, like every other API error; readers get the site's page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


handler404 = not_found

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("tracker.api.urls")),
    # The reader site: English at /, the other languages under their prefix (/de/, /fr/, /uk/).
    *i18n_patterns(path("", include("tracker.site.urls")), prefix_default_language=False),
]
