"""Reads and totals. Pages, the admin and the API call these, so each figure is computed in one place.

A pledge's state on a day (stage, deliveries, figures) is read from its stored periods (timeline.py derives
them): `with_state` joins each pledge to the period in force on the day asked for, and every total, list and
filter reads the state from there. Stages, what counts towards them and what each figure sums are declared
once here (STAGES, stage_q, COUNTED) and used by the summaries and by the pledge list's filters alike, so a
figure's list holds exactly the pledges it sums.
"""
import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Count, F, FilteredRelation, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from . import timeline
from .models import (
    Coalition,
    DataVersion,
    ItemDelivery,
    NationFigures,
    Pledge,
    PledgeItem,
    PledgePeriod,
    Status,
)

ANNOUNCED_OR_LATER = [s.value for s in Status if s not in (Status.UNVERIFIED, Status.CANCELLED, Status.SUPERSEDED)]
COMMITTED_OR_LATER = [Status.COMMITTED.value, Status.ALLOCATED.value, Status.PARTIALLY_DELIVERED.value,
                      Status.DELIVERED.value]
DELIVERING = [Status.PARTIALLY_DELIVERED.value, Status.DELIVERED.value]

# What each stage counts, in order; every summary figure is one of these, for firm or conditional pledges.
STAGES = {
    "announced": "Pledges announced or further along: not unverified, cancelled or superseded. Valued at their "
                 "EUR value.",
    "committed": "Pledges committed, allocated, or (partially) delivered. Valued at their EUR value.",
    "delivered": "Pledges with deliveries reported (partially delivered or delivered, or any delivered figure). "
                 "Valued at the EUR value reported delivered.",
}
STAGE_DEFINITIONS = STAGES
COMMITMENTS = {"firm": False, "conditional": True}
VALUATIONS = {"ecb": "eur_value", "source": "source_eur_value"}

# Pledges by pass-through bodies (e.g. the European Peace Facility) are funded by other contributors: counting
# them too would count the same money twice. They are listed, but no stage total counts them.
COUNTED = Q(nation__is_pass_through=False)

STATE_FIELDS = ["status", "is_conditional", "eur_value", "source_eur_value", "delivered_eur", "quantity", "unit",
                "quantity_undisclosed", "delivered_quantity"]


def stage_q(stage, prefix="state_"):
    """Pledges (or, with prefix "", periods) at `stage` or further along: the one definition of each stage."""
    status = f"{prefix}status__in"
    if stage == "announced":
        return Q(**{status: ANNOUNCED_OR_LATER})
    if stage == "committed":
        return Q(**{status: COMMITTED_OR_LATER})
    if stage == "delivered":
        return (Q(**{status: DELIVERING}) | Q(**{f"{prefix}delivered_eur__gt": 0})
                | Q(**{f"{prefix}delivered_quantity__gt": 0}))
    raise ValueError(f"Unknown stage {stage!r}")


def figure_q(stage, commitment, prefix="state_"):
    """What one figure sums: counted pledges at `stage`, firm or conditional."""
    return stage_q(stage, prefix) & Q(**{f"{prefix}is_conditional": COMMITMENTS[commitment]})


def stage_value(stage, valuation="ecb", prefix="state_"):
    """The field a stage's figure adds up: the pledged value, or (delivered) the value reported delivered."""
    return f"{prefix}delivered_eur" if stage == "delivered" else prefix + VALUATIONS[valuation]


def pledge_state(events, as_of=None):
    """A pledge's status and cumulative deliveries from its status events (see timeline.stage_on)."""
    return timeline.stage_on(events, as_of)


def today():
    return timezone.localdate()


def can_see_drafts(user):
    """Editors and reviewers see drafts; everyone else is a reader."""
    return bool(user and user.is_authenticated and user.is_active and user.has_perm("commitments.view_pledge"))


def visible_pledges(user=None):
    """Pledges a user may see: editors and reviewers see drafts, everyone else only published ones."""
    return Pledge.objects.all() if can_see_drafts(user) else published_pledges()


def published_pledges(coalition=None):
    """What readers may see: published pledges only, everywhere."""
    pledges = Pledge.objects.filter(publication=Pledge.Publication.PUBLISHED)
    return pledges.filter(coalition=coalition) if coalition is not None else pledges


def data_version():
    """(version, changed_at) of the commitment data: any write changes the version."""
    # Every API read and page asks this first (for its ETag or cache key): plain SQL costs a fraction of
    # compiling the same query through the ORM each time.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT version, changed_at FROM {DataVersion._meta.db_table} WHERE id = 1")  # noqa: S608
        row = cursor.fetchone()
    if row is None:
        return 0, None
    version, changed_at = row
    if changed_at is not None and timezone.is_naive(changed_at):  # SQLite stores UTC without the zone
        changed_at = changed_at.replace(tzinfo=datetime.UTC)
    return version, changed_at


def default_coalition():
    return Coalition.objects.order_by("created_at", "id").first()


def period_on_q(as_of, prefix=""):
    """Periods in force on `as_of` (None: today's state, the period with no end)."""
    if as_of is None:
        return Q(**{f"{prefix}valid_to__isnull": True})
    return (Q(**{f"{prefix}valid_from__lte": as_of})
            & (Q(**{f"{prefix}valid_to__isnull": True}) | Q(**{f"{prefix}valid_to__gt": as_of})))


def with_state(pledges, as_of=None):
    """The pledges that count on `as_of` (None: today), each with its state that day from its period:
    state_status, state_is_conditional, state_eur_value, state_source_eur_value, state_delivered_eur,
    state_quantity, state_unit, state_quantity_undisclosed and state_delivered_quantity.

    On a past day, pledges not yet announced then (or with no known date at all) are left out."""
    if "state_status" in pledges.query.annotations:
        return pledges
    return pledges.annotate(
        state=FilteredRelation("periods", condition=period_on_q(as_of, "periods__"))
    ).filter(state__isnull=False).annotate(**{f"state_{name}": F(f"state__{name}") for name in STATE_FIELDS})


def undated_count(pledges):
    """How many of these pledges have no known date and no status event: they count today, on no past day."""
    return pledges.filter(periods__valid_from__isnull=True).count()


def _figure_aggregates(valuation, prefix="state_", counted=COUNTED):
    aggregates = {}
    for commitment in COMMITMENTS:
        for stage in STAGES:
            where = figure_q(stage, commitment, prefix) & counted
            value = stage_value(stage, valuation, prefix)
            aggregates[f"{commitment}_{stage}_pledges"] = Count("id", filter=where)
            aggregates[f"{commitment}_{stage}_eur"] = Sum(value, filter=where)
            aggregates[f"{commitment}_{stage}_valued"] = Count(value, filter=where)
    return aggregates


def _quantity_aggregates():
    """Objective coverage in units: announced pledges whose unit is the target's, known and undisclosed."""
    aggregates = {}
    matching = stage_q("announced") & COUNTED & Q(state_unit=F("objectives__target_unit"))
    for commitment, conditional in COMMITMENTS.items():
        where = matching & Q(state_is_conditional=conditional)
        aggregates[f"{commitment}_quantity"] = Sum("state_quantity", filter=where)
        aggregates[f"{commitment}_quantified"] = Count("state_quantity", filter=where)
        aggregates[f"{commitment}_undisclosed"] = Count("id", filter=where & Q(state_quantity_undisclosed=True))
    return aggregates


GROUPINGS = {
    "totals": [],
    "nation": ["nation__slug", "nation__name", "nation__country", "nation__kind", "nation__is_example",
               "nation__is_pass_through"],
    "objective": ["objectives__slug", "objectives__title", "objectives__is_example", "objectives__target_eur",
                  "objectives__target_quantity", "objectives__target_unit", "objectives__position"],
    "kind": ["kind"],
    "status": ["state_status"],
}


def summarize(pledges, by="totals", valuation="ecb"):
    """Totals of pledges already read `with_state`, overall or per nation, objective, kind or status.

    Each row holds, for firm and for conditional pledges and for each stage, how many pledges it counts, the
    sum of their known values and how many of them have one; plus `pledges` (every pledge in the row) and
    `pass_through` (listed, never counted). A pledge towards several objectives counts in full towards each."""
    aggregates = {"pledges": Count("id"), "pass_through": Count("id", filter=~COUNTED),
                  "example_pledges": Count("id", filter=Q(is_example=True)), **_figure_aggregates(valuation)}
    if by == "totals":
        return [pledges.aggregate(**aggregates, nations=Count("nation", distinct=True))]
    if by == "objective":
        pledges = pledges.exclude(objectives=None)
        aggregates.update(_quantity_aggregates())
    rows = pledges.values(*GROUPINGS[by]).annotate(**aggregates).order_by()
    return list(rows)


def timeline_rows(pledges, state_q=None, valuation="ecb", end=None):
    """Month by month, the totals as they stood at each month's end (the last month: on `end`, default today).

    `pledges` are the pledges in view (filtered on what does not change over time); `state_q` filters their
    periods (stage, status, conditionality, with no prefix). Each period adds to the month it starts in and
    leaves in the month it ends, so the running sum at a month's end is exactly the "as of" total that day.
    Returns [(month's first day, the day its figures stand on, {aggregate: value})]."""
    end = end or today()
    periods = PledgePeriod.objects.filter(pledge__in=pledges.values("pk")).filter(state_q or Q())
    counted = Q(pledge__nation__is_pass_through=False)
    aggregates = {"pledges": Count("id"), "example_pledges": Count("id", filter=Q(pledge__is_example=True)),
                  **_figure_aggregates(valuation, prefix="", counted=counted)}
    starts = (periods.filter(valid_from__lte=end).annotate(month=TruncMonth("valid_from")).values("month")
              .annotate(**aggregates).order_by())
    ends = (periods.filter(valid_to__lte=end).annotate(month=TruncMonth("valid_to")).values("month")
            .annotate(**aggregates).order_by())
    changes = {}
    for sign, rows in ((1, starts), (-1, ends)):
        for row in rows:
            month = _as_date(row.pop("month"))
            into = changes.setdefault(month, {})
            for name, value in row.items():
                into[name] = into.get(name, 0) + sign * (value or 0)
    if not changes:
        return []
    found, running = [], {}
    month, last = min(changes), end.replace(day=1)
    while month <= last:
        for name, value in changes.get(month, {}).items():
            running[name] = running.get(name, 0) + value
        following = (month + datetime.timedelta(days=32)).replace(day=1)
        found.append((month, min(following - datetime.timedelta(days=1), end), dict(running)))
        month = following
    return found


def _as_date(value):
    return value.date() if isinstance(value, datetime.datetime) else value


def item_rows(pledges, by="sub_type", as_of=None):
    """Units pledged and delivered by item type (or sub-type), for counted pledges announced or further along.

    `pledges` are read with_state(as_of). Units delivered are the latest each item's status events report on or
    before `as_of`. Returns rows with `pledged`, `items`, `undisclosed` (items whose pledged units are not
    given), `delivered`, `delivered_items` and `delivered_undisclosed`, largest first."""
    counted = pledges.filter(stage_q("announced") & COUNTED).values("pk")
    items = PledgeItem.objects.filter(pledge__in=counted)
    deliveries = ItemDelivery.objects.filter(item__in=items.values("pk"))
    if as_of is not None:
        deliveries = deliveries.filter(event__occurred_on__lte=as_of)
    latest = {}
    for item_id, units, hidden in deliveries.order_by("event__occurred_on", "event_id").values_list(
            "item_id", "quantity", "quantity_undisclosed"):
        latest[item_id] = (units, hidden)
    groups = {}
    field_name = "sub_type" if by == "sub_type" else "item_type"
    for item_id, key, item_type, units, hidden, example in items.values_list(
            "pk", field_name, "item_type", "quantity", "quantity_undisclosed", "pledge__is_example"):
        key = key or "(not given)"
        row = groups.setdefault(key, {"key": key, "item_type": item_type if by == "sub_type" else key,
                                      "pledged": Decimal(0), "items": 0, "undisclosed": 0, "unknown": 0,
                                      "delivered": Decimal(0), "delivered_items": 0, "delivered_undisclosed": 0,
                                      "example": False})
        row["items"] += 1
        row["example"] = row["example"] or example
        if units is not None:
            row["pledged"] += units
        elif hidden:
            row["undisclosed"] += 1
        else:
            row["unknown"] += 1
        if item_id in latest:
            count, secret = latest[item_id]
            row["delivered_items"] += 1
            if count is not None:
                row["delivered"] += count
            elif secret:
                row["delivered_undisclosed"] += 1
    return sorted(groups.values(), key=lambda r: (-r["pledged"], r["key"]))


def figures_for(nation_slugs, year=None):
    """{nation slug: NationFigures} for the given year, or each nation's latest year on record."""
    figures = NationFigures.objects.filter(nation__slug__in=nation_slugs).select_related("nation", "source")
    if year is not None:
        figures = figures.filter(year=year)
    latest = {}
    for row in figures.order_by("nation_id", "-year"):
        latest.setdefault(row.nation.slug, row)
    return latest
