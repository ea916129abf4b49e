"""The API root (`/api/v1/`): every resource, summary and download, the OpenAPI document and the docs, each with
its absolute URL and what it holds in one line, so a caller's first request shows where everything is."""
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import renderers
from rest_framework import serializers as drf
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from tracker.commitments.summaries import GROUPINGS

from .parsing import JSONRenderer

RESOURCES = {  # router prefix: what its list holds
    "coalitions": "Coalitions that nations pledge to.",
    "nations": "Nations and other contributors (EU bodies, funds, alliances), with their GDP and population.",
    "memberships": "Which nation belongs to which coalition, and in what role (disclosed memberships only).",
    "objectives": "Each coalition's objectives, with their targets and lead nations.",
    "sources": "The statements, reports and datasets that published records cite.",
    "pledges": "Who pledged what to which coalition, with status events, item lines and EUR values; filter "
               "(nation, kind, status, as_of, ...), sort (ordering) and page through them.",
}
SUMMARIES = {  # grouping (tracker.commitments.summaries.GROUPINGS): what it sums
    "totals": "Overall totals: firm and conditional pledges, announced, committed and delivered, in EUR.",
    "coalition": "The totals per coalition, to compare them side by side.",
    "nation": "The totals per nation, with the share of GDP and EUR per capita of firm pledges.",
    "objective": "The totals per objective, with how much of its target firm pledges cover.",
    "kind": "The totals per kind of pledge (military, financial, humanitarian, ...).",
    "status": "The totals per status (announced, committed, delivered, ...).",
    "month": "The totals as they stood at the end of each month.",
    "item": "Units of equipment pledged and delivered, per item type.",
}
EXPORTS = {  # name: (path, query, what it holds)
    "pledges-csv": ("api:pledge-list", "?format=csv",
                    "Every pledge you may see as one CSV, in the import template's columns (source URLs or titles, "
                    "objective titles, the latest status); takes the pledge list's filters, as_of and ordering."),
    "pledges-xlsx": ("api:pledge-list", "?format=xlsx", "The same as an Excel workbook."),
    "pledges-template": ("api:pledge-export", "",
                         "The same file named as the import template (pledges-template.csv, or ?format=xlsx): what "
                         "manage.py import_pledges and the admin's import read back."),
}
SUMMARY_DOWNLOADS = " Add ?format=csv or ?format=xlsx for a spreadsheet; takes the pledge list's filters."


class ApiRootLinkSerializer(drf.Serializer):
    url = drf.URLField(help_text="absolute URL")
    description = drf.CharField(help_text="what it holds, in one line")


def _section(name, keys):
    """A serializer of an object holding one link per key (each documented as a required property)."""
    return type(name, (drf.Serializer,), {key: ApiRootLinkSerializer() for key in keys})


class ApiRootSerializer(drf.Serializer):
    title = drf.CharField()
    description = drf.CharField()
    resources = _section("ApiRootResources", RESOURCES)()
    summaries = _section("ApiRootSummaries", GROUPINGS.values())()
    exports = _section("ApiRootExports", EXPORTS)()
    schema = ApiRootLinkSerializer()
    docs = ApiRootLinkSerializer()


class ApiRootView(APIView):
    """Where everything is: resources, summaries, downloads, the OpenAPI document and the docs."""

    permission_classes = [AllowAny]  # it has GET only: any other method is a 405
    resources = {}  # router prefix: basename, of every registered resource (urls.py)
    renderer_classes = [JSONRenderer, renderers.BrowsableAPIRenderer]

    def get_view_name(self):
        return "Coalition commitment tracker API"

    @extend_schema(operation_id="api_root", responses={200: ApiRootSerializer, 400: OpenApiResponse(
        description="A query parameter the root does not take, named")})
    def get(self, request):
        unknown = sorted(set(request.query_params) - {"format"})
        if unknown:
            raise ValidationError({name: "Unknown parameter: the root takes none." for name in unknown})

        def link(path, description, query=""):
            return {"url": request.build_absolute_uri(path) + query, "description": description}

        return Response({
            "title": "Coalition commitment tracker API",
            "description": "Who pledged what to which coalition, towards which objective, and what was delivered. "
                           "Anyone reads published records, no key needed; editors write with a token. Lists give "
                           "`count`, `next` and `previous`, and take `ordering` and `page_size`.",
            "resources": {prefix: link(reverse(f"api:{basename}-list"), RESOURCES[prefix])
                          for prefix, basename in self.resources.items()},
            "summaries": {path: link(reverse(f"api:summary-{grouping}"), SUMMARIES[grouping] + SUMMARY_DOWNLOADS)
                          for grouping, path in GROUPINGS.items()},
            "exports": {name: link(reverse(url_name), text, query)
                        for name, (url_name, query, text) in EXPORTS.items()},
            "schema": link(reverse("api:schema"), "The OpenAPI 3 document of this API, as YAML; ?format=json (or "
                                                  "Accept: application/json) for JSON."),
            "docs": link(reverse("api:docs"), "Interactive documentation (Swagger UI) of every operation."),
        })
