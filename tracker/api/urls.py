from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from tracker.commitments.summaries import GROUPINGS

from . import root, summaries, views

router = DefaultRouter()
router.include_root_view = False  # root.ApiRootView lists everything, described
router.register("coalitions", views.CoalitionViewSet, basename="coalition")
router.register("nations", views.NationViewSet, basename="nation")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("objectives", views.ObjectiveViewSet, basename="objective")
router.register("sources", views.SourceViewSet, basename="source")
router.register("pledges", views.PledgeViewSet, basename="pledge")


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Unknown API paths answer in JSON, like the rest of the API, not with Django's HTML page."""
    return JsonResponse({"detail": "No such API path or record."}, status=404)


app_name = "api"
urlpatterns = [
    path("", root.ApiRootView.as_view(resources={prefix: basename for prefix, _, basename in router.registry}),
         name="api-root"),
    path("", include(router.urls)),
    *[
        path(f"summaries/{path_name}/",
             (summaries.ItemSummaryView if grouping == "item" else summaries.SummaryView).as_view(grouping=grouping),
             name=f"summary-{grouping}")
        for grouping, path_name in GROUPINGS.items()
    ],
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: the Content-Security-Policy allows no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    re_path(r"^.*$", not_found),
]
