"""Summaries: totals by nation, objective, kind, status and month; overall totals; pledged vs delivered.

Each is cached under a key holding the data version (bumped by every write), so a repeated read runs no
aggregate query and a write shows on the very next read. Every figure says which stage it counts, how
many pledges it sums, and links to the pledge list that produces it.
"""
from urllib.parse import urlencode

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers as drf
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from tracker.commitments import selectors, summaries

from .conditional import ConditionalGetMixin
from .exports import attach_filename
from .filters import PledgeFilter, applied_filters, parse_as_of
from .permissions import ReadOnly, is_staff_reader


class StageSerializer(drf.Serializer):
    eur = drf.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    pledges = drf.IntegerField()


class SummaryRowSerializer(drf.Serializer):
    key = drf.CharField(allow_null=True, help_text="the group: nation slug, objective slug, kind, status or month")
    label = drf.CharField(allow_null=True)
    pledges = drf.IntegerField(help_text="pledges summed in this row")
    announced = StageSerializer()
    committed = StageSerializer()
    delivered = StageSerializer()
    delivery_gap_eur = drf.DecimalField(max_digits=20, decimal_places=2, allow_null=True,
                                        help_text="committed minus delivered")
    firm_eur = drf.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    conditional_eur = drf.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    conditional_pledges = drf.IntegerField()
    pledges_url = drf.CharField(help_text="the filtered pledge list this row sums")
    extra = drf.DictField(required=False, help_text="per grouping: GDP share and per capita (nation), coverage "
                                                    "of the target (objective), cumulative totals (month)")


class SummarySerializer(drf.Serializer):
    grouping = drf.CharField()
    as_of = drf.DateField(allow_null=True)
    stages = drf.DictField(child=drf.CharField())
    filters = drf.DictField(child=drf.CharField())
    results = SummaryRowSerializer(many=True)


def api_link(query):
    """The API pledge list that a summary row sums."""
    return reverse("api:pledge-list") + ("?" + urlencode(query) if query else "")


SUMMARY_PARAMS = [
    OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv", "xlsx"]),
    OpenApiParameter("year", OpenApiTypes.INT, description="by-nation: GDP and population of this year "
                                                           "(default: each nation's latest on record)"),
]


class SummaryView(ConditionalGetMixin, APIView):
    permission_classes = [ReadOnly]
    grouping = "totals"

    @extend_schema(parameters=SUMMARY_PARAMS, responses={200: SummarySerializer, **{
        400: OpenApiResponse(description="Unknown query parameter or bad value, named")}})
    def get(self, request):
        params = request.query_params.copy()
        params.pop("format", None)
        year = params.pop("year", [None])[-1]
        if year is not None and not (year.isdigit() and 1900 <= int(year) <= 2200):
            raise ValidationError({"year": "A year from 1900 to 2200."})
        as_of, filterset = None, None
        if params:
            as_of = parse_as_of(params)
            filterset = PledgeFilter(params, request=request,
                                     queryset=selectors.with_state(selectors.visible_pledges(request.user), as_of))
            if not filterset.is_valid():
                raise ValidationError(filterset.errors)
        audience = "staff" if is_staff_reader(request.user) else "public"
        key = summaries.cache_key(self.data_version, "api", self.grouping, audience, params.lists(), year)

        def build():
            if filterset is not None:
                pledges = filterset.qs
                filters = {k: v for k, v in applied_filters(filterset).items() if k != "as_of"}
            else:
                pledges, filters = selectors.visible_pledges(request.user), {}
            return summaries.build_summary(pledges, self.grouping, filters, as_of, api_link,
                                           int(year) if year else None)

        document = summaries.cached(key, build)  # self.data_version was read once, also for the ETag
        response = Response(document)
        return attach_filename(response, f"summary-{self.grouping}", request.query_params.get("format"))
