"""Summaries: totals by nation, objective, kind, status and month; overall totals; pledged vs delivered.

Each is cached under a key holding the data version (bumped by every write), so a repeated read runs no
aggregate query and a write shows on the very next read. Every figure says which stage it counts, how
many pledges it sums, and links to the pledge list that produces it.
"""
import datetime
import hashlib
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

from django.core.cache import cache, caches
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers as drf
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from tracker.commitments import selectors
from tracker.commitments.models import Pledge, Status

from .conditional import ConditionalGetMixin
from .exports import attach_filename
from .filters import PledgeFilter, parse_as_of
from .permissions import ReadOnly, is_staff_reader

CENT = Decimal("0.01")
SUMMARY_TTL = 24 * 3600  # the version in the key, not the TTL, keeps figures fresh


def money(value):
    return None if value is None else Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def ratio(part, whole, scale=1):
    if part is None or not whole:
        return None
    return (Decimal(part) * scale / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


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


def _row(raw, key, label, pledges_query):
    committed, delivered = money(raw["committed_eur"]), money(raw["delivered_eur"])
    return {
        "key": key,
        "label": label,
        "pledges": raw["pledges"],
        "announced": {"eur": money(raw["announced_eur"]), "pledges": raw["announced_pledges"]},
        "committed": {"eur": committed, "pledges": raw["committed_pledges"]},
        "delivered": {"eur": delivered, "pledges": raw["delivered_pledges"]},
        "delivery_gap_eur": None if committed is None else committed - (delivered or 0),
        "firm_eur": money(raw["firm_eur"]),
        "conditional_eur": money(raw["conditional_eur"]),
        "conditional_pledges": raw["conditional_pledges"],
        "pledges_url": reverse("api:pledge-list") + ("?" + urlencode(pledges_query) if pledges_query else ""),
        "extra": {},
    }


def build_summary(pledges, grouping, filters, as_of, year=None):
    """The summary document for a (filtered, visible) pledge queryset."""
    base = {k: str(v) for k, v in filters.items() if v not in (None, "")}
    if grouping == "totals":
        rows = [_row(selectors.summarize(pledges, as_of=as_of), None, "All pledges", base)]
    else:
        rows = []
        cumulative = {"announced_eur": Decimal(0), "committed_eur": Decimal(0), "delivered_eur": Decimal(0)}
        raw_rows = selectors.summarize(pledges, by=grouping, as_of=as_of)
        figures = selectors.figures_for([r["nation__slug"] for r in raw_rows], year) if grouping == "nation" else {}
        for raw in raw_rows:
            if grouping == "nation":
                row = _row(raw, raw["nation__slug"], raw["nation__name"], {**base, "nation": raw["nation__slug"]})
                fig = figures.get(raw["nation__slug"])
                row["extra"] = {
                    "code": raw["nation__country"], "kind": raw["nation__kind"],
                    "figures_year": fig.year if fig else None,
                    "share_of_gdp_percent": ratio(raw["announced_eur"], fig.gdp_eur, 100) if fig else None,
                    "eur_per_capita": ratio(raw["announced_eur"], fig.population) if fig else None,
                    "figures_source": fig.source_id if fig else None,
                }
            elif grouping == "objective":
                row = _row(raw, raw["objectives__slug"], raw["objectives__title"],
                           {**base, "objective": raw["objectives__slug"]})
                target_eur, target_quantity = raw["objectives__target_eur"], raw["objectives__target_quantity"]
                row["extra"] = {
                    "target_eur": money(target_eur),
                    "coverage_eur_percent": ratio(raw["announced_eur"], target_eur, 100),
                    "shortfall_eur": money(max(Decimal(target_eur) - Decimal(raw["announced_eur"] or 0), 0))
                    if target_eur is not None else None,
                    "target_quantity": raw["objectives__target_quantity"],
                    "target_unit": raw["objectives__target_unit"] or None,
                    "pledged_quantity": money(raw["objective_quantity"]),
                    "coverage_quantity_percent": ratio(raw["objective_quantity"] or 0, target_quantity, 100),
                }
            elif grouping == "kind":
                row = _row(raw, raw["kind"], Pledge.Kind(raw["kind"]).label, {**base, "kind": raw["kind"]})
            elif grouping == "status":
                row = _row(raw, raw["state_status"], Status(raw["state_status"]).label,
                           {**base, "status": raw["state_status"]})
            else:  # month
                month = raw["month"]
                key = month.strftime("%Y-%m")
                next_month = (month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
                row = _row(raw, key, key, {**base, "announced_after": month.isoformat(),
                                           "announced_before": (next_month - datetime.timedelta(days=1)).isoformat()})
                for name in cumulative:
                    cumulative[name] += Decimal(raw[name] or 0)
                row["extra"] = {f"cumulative_{name}": money(value) for name, value in cumulative.items()}
            rows.append(row)
    return {
        "grouping": grouping,
        "as_of": as_of,
        "stages": selectors.STAGE_DEFINITIONS,
        "filters": base,
        "results": rows,
    }


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
        version, changed_at = self.data_version  # read once, for the ETag, by ConditionalGetMixin
        audience = "staff" if is_staff_reader(request.user) else "public"
        digest = hashlib.sha256(f"{self.grouping}|{sorted(params.lists())}|{year}".encode()).hexdigest()
        # The change time makes the key unique to one state of the data, even if a restored backup
        # (or a rolled-back transaction) brings an old version number back.
        stamp = changed_at.timestamp() if changed_at else 0
        key = f"summary:v{version}-{stamp}:{audience}:{digest}"
        document = cached(key)
        if document is None:
            if filterset is not None:
                pledges = filterset.qs
                filters = {k: v for k, v in filterset.form.cleaned_data.items()
                           if k != "as_of" and v not in (None, "")}
            else:
                pledges, filters = selectors.visible_pledges(request.user), {}
            document = build_summary(pledges, self.grouping, filters, as_of, int(year) if year else None)
            store(key, document)
        response = Response(document)
        return attach_filename(response, f"summary-{self.grouping}", request.query_params.get("format"))


def cached(key):
    """This process's copy first, then the cache every worker shares. Keys hold the data version, so no
    copy can be stale: a write changes the version and with it every key."""
    document = caches["local"].get(key)
    if document is None:
        document = cache.get(key)
        if document is not None:
            caches["local"].set(key, document, SUMMARY_TTL)
    return document


def store(key, document):
    caches["local"].set(key, document, SUMMARY_TTL)
    cache.set(key, document, SUMMARY_TTL)
