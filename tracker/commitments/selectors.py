"""Reads and totals. Pages, the admin and the API call these, so each figure is computed in one place."""
import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Count, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from .models import Coalition, DataVersion, NationFigures, Pledge, Status, StatusEvent

# Stages a total can count, from the loosest to the firmest. "Delivered" sums delivered amounts.
ANNOUNCED_OR_LATER = [s for s in Status if s not in (Status.UNVERIFIED, Status.CANCELLED, Status.SUPERSEDED)]
COMMITTED_OR_LATER = [Status.COMMITTED, Status.ALLOCATED, Status.PARTIALLY_DELIVERED, Status.DELIVERED]


@dataclass(frozen=True)
class PledgeState:
    status: str
    delivered_quantity: Decimal | None
    delivered_eur: Decimal | None


def pledge_state(events, as_of=None):
    """A pledge's status and cumulative deliveries from its status events, optionally as they stood on `as_of`.

    The latest event (by date, then by order of recording) sets the status; delivered figures are the
    latest ones any event reported. With no event the pledge is "unverified": not yet rated.
    """
    state = PledgeState(Status.UNVERIFIED, None, None)
    ordered = sorted(events, key=lambda e: (e.occurred_on, e.pk or 0))
    for event in ordered:
        if as_of is not None and event.occurred_on > as_of:
            break
        state = PledgeState(
            event.status,
            event.delivered_quantity if event.delivered_quantity is not None else state.delivered_quantity,
            event.delivered_eur if event.delivered_eur is not None else state.delivered_eur,
        )
    return state


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


def with_state(pledges, as_of=None):
    """Annotate each pledge's stage and deliveries, today or as they stood on `as_of` (from its status events).

    Adds state_status, state_delivered_eur and state_delivered_quantity. With `as_of`, pledges announced
    later (or on an unknown date) are left out: they were not yet pledged.
    """
    if as_of is None:
        return pledges.annotate(
            state_status=F("status"),
            state_delivered_eur=F("delivered_eur"),
            state_delivered_quantity=F("delivered_quantity"),
        )
    events = StatusEvent.objects.filter(pledge=OuterRef("pk"), occurred_on__lte=as_of).order_by("-occurred_on", "-id")
    return pledges.filter(announced_on__lte=as_of).annotate(
        state_status=Coalesce(Subquery(events.values("status")[:1]), Value(Status.UNVERIFIED.value)),
        state_delivered_eur=Subquery(events.exclude(delivered_eur=None).values("delivered_eur")[:1]),
        state_delivered_quantity=Subquery(events.exclude(delivered_quantity=None).values("delivered_quantity")[:1]),
    )


# What each stage counts; every summary row carries these, with how many pledges each sums.
STAGE_DEFINITIONS = {
    "announced": "EUR value of pledges announced or further along (not unverified, cancelled or superseded)",
    "committed": "EUR value of pledges committed, allocated or (partially) delivered",
    "delivered": "EUR value reported delivered by status events",
}


def _stage_aggregates():
    announced = Q(state_status__in=ANNOUNCED_OR_LATER)
    committed = Q(state_status__in=COMMITTED_OR_LATER)
    return {
        "pledges": Count("id", distinct=True),
        "nations": Count("nation", distinct=True),
        "announced_eur": Sum("eur_value", filter=announced),
        "announced_pledges": Count("id", filter=announced, distinct=True),
        "committed_eur": Sum("eur_value", filter=committed),
        "committed_pledges": Count("id", filter=committed, distinct=True),
        "delivered_eur": Sum("state_delivered_eur"),
        "delivered_pledges": Count("id", filter=Q(state_delivered_eur__gt=0), distinct=True),
        "firm_eur": Sum("eur_value", filter=announced & Q(is_conditional=False)),
        "conditional_eur": Sum("eur_value", filter=announced & Q(is_conditional=True)),
        "conditional_pledges": Count("id", filter=Q(is_conditional=True), distinct=True),
    }


GROUPINGS = {
    "nation": ["nation__slug", "nation__name", "nation__country", "nation__kind", "nation__is_example"],
    "objective": ["objectives__slug", "objectives__title", "objectives__is_example", "objectives__target_eur",
                  "objectives__target_quantity",
                  "objectives__target_unit"],
    "kind": ["kind"],
    "status": ["state_status"],
    "month": ["month"],
}


def summarize(pledges, by=None, as_of=None):
    """Totals of a pledge queryset, overall (`by=None`) or per nation, objective, kind, status or month.

    Pass-through bodies are left out, so money routed through them is not counted twice. A pledge towards
    several objectives counts in full towards each of them.
    """
    if "state_status" not in pledges.query.annotations:
        pledges = with_state(pledges, as_of)
    pledges = pledges.filter(nation__is_pass_through=False)
    if by is None:
        return pledges.aggregate(**_stage_aggregates())
    if by == "month":
        pledges = pledges.exclude(announced_on=None).annotate(month=TruncMonth("announced_on"))
    if by == "objective":
        pledges = pledges.exclude(objectives=None)
        extra = {"objective_quantity": Sum("quantity", filter=Q(unit=F("objectives__target_unit"))
                                           & Q(state_status__in=ANNOUNCED_OR_LATER))}
    else:
        extra = {}
    fields = GROUPINGS[by]
    rows = pledges.values(*fields).annotate(**_stage_aggregates(), **extra)
    order = {"month": ["month"], "nation": ["-announced_eur", "nation__name"]}.get(by, fields[:1])
    rows = rows.order_by(*[F(f[1:]).desc(nulls_last=True) if f.startswith("-") else f for f in order])
    return list(rows)


def figures_for(nation_slugs, year=None):
    """{nation slug: NationFigures} for the given year, or each nation's latest year on record."""
    figures = NationFigures.objects.filter(nation__slug__in=nation_slugs).select_related("nation", "source")
    if year is not None:
        figures = figures.filter(year=year)
    latest = {}
    for row in figures.order_by("nation_id", "-year"):
        latest.setdefault(row.nation.slug, row)
    return latest
