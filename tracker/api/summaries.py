"""Summaries: totals by nation, objective, kind, status and month; overall totals; pledged vs delivered; units of
equipment by item type.

Each is cached under a key holding the data version (bumped by every write), so a repeated read runs no
aggregate query and a write shows on the very next read. Every figure says which stage it counts, how
many pledges it sums, and links to the pledge list that produces it.
"""
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers as drf
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from tracker.commitments import selectors, summaries
from tracker.commitments.filters import InvalidQuery, PledgeFilter, UnknownRelease, select
from tracker.commitments.models import Pledge

from .conditional import ConditionalGetMixin
from .exports import attach_filename
from .permissions import ReadOnly, is_staff_reader


class FigureSerializer(drf.Serializer):
    eur = drf.DecimalField(max_digits=20, decimal_places=2, allow_null=True,
                           help_text="sum of the values known; null when none of its pledges has one (never 0 for "
                                     "unknown)")
    pledges = drf.IntegerField(help_text="pledges this figure counts")
    not_valued = drf.IntegerField(help_text="of those, how many have no value, so are not in `eur`")
    pledges_url = drf.CharField(allow_null=True, help_text="the pledge list holding exactly the pledges counted "
                                                           "(null when the document's own filters exclude them)")


class StagesSerializer(drf.Serializer):
    announced = FigureSerializer()
    committed = FigureSerializer()
    delivered = FigureSerializer()


class GapSerializer(drf.Serializer):
    eur = drf.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    bound = drf.ChoiceField(choices=["exact", "at_least", "at_most", "unknown"],
                            help_text="at_least: committed pledges of unknown value would add to it; at_most: "
                                      "deliveries of unknown value would take from it; unknown: both")


class SummaryRowSerializer(drf.Serializer):
    key = drf.CharField(allow_null=True, help_text="the group: nation slug, objective slug, kind, status or month")
    label = drf.CharField(allow_null=True)
    pledges = drf.IntegerField(help_text="every pledge in this row, whatever its stage")
    pass_through = drf.IntegerField(help_text="pledges by pass-through bodies: listed, never counted in a stage")
    pledges_url = drf.CharField(help_text="the pledge list of this row")
    example = drf.BooleanField(help_text="true when the row sums example (illustrative) data")
    firm = StagesSerializer(help_text="unconditional pledges, by stage")
    conditional = StagesSerializer(help_text="conditional pledges, by stage: never inside the firm figures")
    delivery_gap = GapSerializer(help_text="firm value committed minus firm value delivered")
    extra = drf.DictField(required=False, help_text="per grouping: GDP share and per capita of firm pledges "
                                                    "(nation), coverage of the target by firm pledges and what "
                                                    "conditional ones would add (objective)")


class ItemRowSerializer(drf.Serializer):
    key = drf.CharField(help_text="item sub-type, e.g. Main Battle Tank (MBT)")
    label = drf.CharField()
    item_type = drf.CharField(help_text="its category, e.g. Heavy weapon")
    items = drf.IntegerField(help_text="item lines summed")
    units_pledged = drf.DecimalField(max_digits=20, decimal_places=2, allow_null=True,
                                     help_text="units of the item lines whose number is given")
    items_undisclosed = drf.IntegerField(help_text="item lines whose units are undisclosed (not in units_pledged)")
    items_not_given = drf.IntegerField(help_text="item lines with no number at all")
    units_delivered = drf.DecimalField(max_digits=20, decimal_places=2, allow_null=True,
                                       help_text="units reported delivered by the as-of date")
    items_delivered = drf.IntegerField()
    items_delivered_undisclosed = drf.IntegerField()
    pledges_url = drf.CharField()


class ConcentrationSerializer(drf.Serializer):
    contributors = drf.IntegerField(help_text="contributors with a known firm value at this stage")
    eur = drf.DecimalField(max_digits=20, decimal_places=2, allow_null=True, help_text="their firm value known")
    top_1_percent = drf.DecimalField(max_digits=9, decimal_places=4, allow_null=True,
                                     help_text="share of the largest contributor, in percent")
    top_3_percent = drf.DecimalField(max_digits=9, decimal_places=4, allow_null=True)
    top_5_percent = drf.DecimalField(max_digits=9, decimal_places=4, allow_null=True)
    hhi = drf.DecimalField(max_digits=9, decimal_places=0, allow_null=True,
                           help_text="Herfindahl-Hirschman index: the sum of the squared percentage shares, from "
                                     "near 0 (spread over many) to 10,000 (one contributor)")
    not_valued = drf.IntegerField(help_text="firm pledges at this stage with no value: in no share")
    complete = drf.BooleanField(help_text="false when any firm pledge at this stage has no value")


class ConcentrationStagesSerializer(drf.Serializer):
    announced = ConcentrationSerializer()
    committed = ConcentrationSerializer()
    delivered = ConcentrationSerializer()


class ReleaseStampSerializer(drf.Serializer):
    number = drf.IntegerField()
    title = drf.CharField()
    cut_at = drf.DateTimeField()
    url = drf.CharField()


class SummarySerializer(drf.Serializer):
    grouping = drf.CharField()
    as_of = drf.DateField(allow_null=True, help_text="null: as of today")
    valuation = drf.ChoiceField(choices=["ecb", "source"])
    generated_at = drf.DateTimeField()
    includes_example = drf.BooleanField(help_text="true when any row sums example (illustrative) data")
    stages = drf.DictField(child=drf.CharField())
    filters = drf.DictField(child=drf.CharField())
    results = SummaryRowSerializer(many=True)
    release = ReleaseStampSerializer(allow_null=True, help_text="the release this document is; null: today's data")
    extends_release = ReleaseStampSerializer(allow_null=True, help_text="today's data: the latest release it follows")
    concentration = ConcentrationStagesSerializer(
        required=False, help_text="by-nation only: how much of each firm figure rests on the largest contributors")


DOWNLOAD_LANGUAGES = [code for code, _ in settings.LANGUAGES]


def api_link(query):
    """The API pledge list that a summary figure sums."""
    return reverse("api:pledge-list") + ("?" + urlencode(query) if query else "")


SUMMARY_PARAMS = [
    OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv", "xlsx"]),
    OpenApiParameter("release", {"type": "integer", "minimum": 1},
                     description="answer exactly as numbered release n did (the whole tracker, a coalition, a nation "
                                 "or an objective, either valuation; no other filter or date)"),
    OpenApiParameter("lang", OpenApiTypes.STR, enum=DOWNLOAD_LANGUAGES,
                     description="CSV and XLSX: the column headings in this language (the reader pages ask for "
                                 "theirs); JSON keys are English whatever it says"),
    OpenApiParameter("year", {"type": "integer", "minimum": 1900, "maximum": 2100},
                     description="by-nation: GDP and population of this year, 1900 to 2100 (default: each nation's "
                                 "latest on record)"),
]


def absolute_links(value, request):
    """A release's document with its links (to the release's dataset) made absolute, like every API link."""
    if isinstance(value, dict):
        return {key: request.build_absolute_uri(item) if key == "pledges_url" and item
                else absolute_links(item, request) for key, item in value.items()}
    if isinstance(value, list):
        return [absolute_links(item, request) for item in value]
    return value


class SummaryView(ConditionalGetMixin, APIView):
    """A summary of the pledges the query selects: it takes the pledge list's filters (select() applies them)."""

    permission_classes = [ReadOnly]
    grouping = "totals"
    # Read by the OpenAPI document only, so a summary documents the same filters as the pledge list.
    queryset = Pledge.objects.none()
    filter_backends = [DjangoFilterBackend]
    filterset_class = PledgeFilter

    @extend_schema(filters=True, parameters=SUMMARY_PARAMS, responses={200: SummarySerializer, **{
        400: OpenApiResponse(description="Unknown query parameter or bad value, named"),
        404: OpenApiResponse(description="`release` names no release, or one that froze no such summary")}})
    def get(self, request):
        params = request.query_params.copy()
        params.pop("format", None)
        language = params.pop("lang", [None])[-1] or None
        if language is not None and language not in DOWNLOAD_LANGUAGES:
            raise ValidationError({"lang": f"One of {', '.join(DOWNLOAD_LANGUAGES)}."})
        year = params.pop("year", [None])[-1] or None
        if year is not None and not (year.isascii() and year.isdigit() and 1900 <= int(year) <= 2100):
            raise ValidationError({"year": "A year from 1900 to 2100."})
        try:
            selection = select(params, selectors.visible_pledges(request.user), releases=True)
            if selection.release is not None:
                if year is not None:
                    raise InvalidQuery({"year": ["A release answers with the GDP figures it was cut with."]})
                document = summaries.released(selection, self.grouping)
        except UnknownRelease as error:  # a summary that does not exist, like a record that does not
            raise NotFound(error.errors) from None
        except InvalidQuery as error:
            raise ValidationError(error.errors) from None
        if selection.release is not None:
            document["release"]["url"] = request.build_absolute_uri(document["release"]["url"])
            response = Response(absolute_links(document, request))
            response.column_language = language
            return attach_filename(response, f"summary-{self.grouping}-release-{selection.release.number}",
                                   request.query_params.get("format"))
        audience = "staff" if is_staff_reader(request.user) else "public"
        # Links are absolute, so a downloaded table still leads to its pledges: the host is part of the key.
        key = summaries.cache_key(self.data_version, f"api|{request.build_absolute_uri('/')}", self.grouping,
                                  audience, params.lists(), year)
        document = summaries.cached(key, lambda: summaries.build_summary(
            selection, self.grouping, lambda query: request.build_absolute_uri(api_link(query)),
            int(year) if year else None))
        if document.get("extends_release"):
            document = {**document, "extends_release": {
                **document["extends_release"], "url": request.build_absolute_uri(document["extends_release"]["url"])}}
        response = Response(document)
        response.column_language = language  # read by the CSV and XLSX renderers; JSON keys stay English
        return attach_filename(response, f"summary-{self.grouping}", request.query_params.get("format"))


class ItemSummaryView(SummaryView):
    grouping = "item"

    @extend_schema(filters=True, parameters=SUMMARY_PARAMS, responses={200: inline_serializer(
        "ItemSummary", {"grouping": drf.CharField(), "as_of": drf.DateField(allow_null=True),
                        "filters": drf.DictField(child=drf.CharField()), "results": ItemRowSerializer(many=True)}),
        400: OpenApiResponse(description="Unknown query parameter or bad value, named"),
        404: OpenApiResponse(description="`release` names no release, or one that froze no such summary")})
    def get(self, request):
        return super().get(request)
