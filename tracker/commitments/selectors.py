"""Reads and totals. Pages, the admin and the API call these, so each figure is computed in one place.

A pledge's state on a day (stage, deliveries, figures) is read from its stored periods (timeline.py derives
them): `with_state` joins each pledge to the period in force on the day asked for (today: the pledge's own
columns, kept equal to its open period), and every total, list and filter reads the state from there. Stages,
what counts towards them and what each figure sums are declared once here (STAGES, stage_q, COUNTED) and used by
the summaries and by the pledge list's filters alike, so a figure's list holds exactly the pledges it sums.
"""
import datetime
import re
import time
from decimal import Decimal

import psycopg
from django.db import connections, router
from django.db.models import BooleanField, Count, ExpressionWrapper, F, FilteredRelation, Q, Sum, Window
from django.db.models.functions import Lag, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .history import LABELS, shown_figure
from .models import (
    Coalition,
    DataVersion,
    ImportUpload,
    ItemDelivery,
    Membership,
    Nation,
    NationFigures,
    Objective,
    Pledge,
    PledgeItem,
    PledgePeriod,
    Release,
    ReleaseDocument,
    ReleasedPledge,
    Source,
    Status,
    StatusEvent,
)

ANNOUNCED_OR_LATER = [s.value for s in Status if s not in (Status.UNVERIFIED, Status.CANCELLED, Status.SUPERSEDED)]
COMMITTED_OR_LATER = [Status.COMMITTED.value, Status.ALLOCATED.value, Status.PARTIALLY_DELIVERED.value,
                      Status.DELIVERED.value]
DELIVERING = [Status.PARTIALLY_DELIVERED.value, Status.DELIVERED.value]

# What each stage counts, in order; every summary figure is one of these, for firm or conditional pledges.
STAGES = {
    "announced": _("Pledges announced or further along: not unverified, cancelled or superseded. Valued at their "
                   "EUR value."),
    "committed": _("Pledges committed, allocated, or (partially) delivered. Valued at their EUR value."),
    "delivered": _("Pledges with deliveries reported (partially delivered or delivered, or any delivered figure). "
                   "Valued at the EUR value reported delivered."),
}
STAGE_DEFINITIONS = STAGES
COMMITMENTS = {"firm": False, "conditional": True}
VALUATIONS = {"ecb": "eur_value", "source": "source_eur_value"}

# Pledges by pass-through bodies (e.g. the European Peace Facility) are funded by other contributors: counting
# them too would count the same money twice. They are listed, but no stage total counts them.
PASSES_THROUGH = "nation__is_pass_through"
COUNTED = Q(**{PASSES_THROUGH: False})

STATE_FIELDS = ["status", "is_conditional", "eur_value", "source_eur_value", "delivered_eur", "quantity", "unit",
                "quantity_undisclosed", "delivered_quantity"]


# The statuses at each stage or further along; a stage in REACHED_BY_DELIVERIES also counts any pledge with
# deliveries reported, whatever its status.
STAGE_STATUSES = {"announced": ANNOUNCED_OR_LATER, "committed": COMMITTED_OR_LATER, "delivered": DELIVERING}
REACHED_BY_DELIVERIES = {"delivered"}


def deliveries_reported_q(prefix="state_"):
    """Pledges (or periods) with a delivered figure above zero."""
    return Q(**{f"{prefix}delivered_eur__gt": 0}) | Q(**{f"{prefix}delivered_quantity__gt": 0})


def stage_q(stage, prefix="state_"):
    """Pledges (or, with prefix "", periods) at `stage` or further along: the one definition of each stage."""
    if stage not in STAGES:
        raise ValueError(f"Unknown stage {stage!r}")
    at_stage = Q(**{f"{prefix}status__in": STAGE_STATUSES[stage]})
    return at_stage | deliveries_reported_q(prefix) if stage in REACHED_BY_DELIVERIES else at_stage


def in_stage(stage, status, deliveries_reported):
    """stage_q for one pledge's status and whether it has deliveries reported (the totals' fold)."""
    return status in STAGE_STATUSES[stage] or (stage in REACHED_BY_DELIVERIES and bool(deliveries_reported))


# What each stage's figure adds up: the pledged value, or (delivered) the value reported delivered.
STAGE_SUMS = {"announced": "value", "committed": "value", "delivered": "delivered"}


def figure_q(stage, commitment, prefix="state_"):
    """What one figure sums: counted pledges at `stage`, firm or conditional."""
    return stage_q(stage, prefix) & Q(**{f"{prefix}is_conditional": COMMITMENTS[commitment]})


def stage_value(stage, valuation="ecb", prefix="state_"):
    """The field a stage's figure adds up (STAGE_SUMS)."""
    return f"{prefix}delivered_eur" if STAGE_SUMS[stage] == "delivered" else prefix + VALUATIONS[valuation]


def _figure_aggregates(valuation, prefix="state_", counted=COUNTED):
    """Every figure as a filtered aggregate: for one grouping column (the timeline's months)."""
    aggregates = {}
    for commitment in COMMITMENTS:
        for stage in STAGES:
            where = figure_q(stage, commitment, prefix) & counted
            value = stage_value(stage, valuation, prefix)
            aggregates[f"{commitment}_{stage}_pledges"] = Count("id", filter=where)
            aggregates[f"{commitment}_{stage}_eur"] = Sum(value, filter=where)
            aggregates[f"{commitment}_{stage}_valued"] = Count(value, filter=where)
    return aggregates


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


def data_version(public=False):
    """(version, changed_at) of the commitment data: any write changes the version; with `public`, only writes
    readers can see (what anonymous responses are keyed on, so unpublished work leaves no trace there)."""
    # Every API read and page asks this first (for its ETag or cache key): plain SQL costs a fraction of
    # compiling the same query through the ORM each time.
    columns = "public_version, public_changed_at" if public else "version, changed_at"
    # From the database the request reads its data from (a replica for anonymous readers): the version always
    # describes the data it is served with, however far behind the replica is.
    with connections[router.db_for_read(DataVersion)].cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {DataVersion._meta.db_table} WHERE id = 1")  # noqa: S608
        row = cursor.fetchone()
    if row is None:
        return 0, None
    version, changed_at = row
    if changed_at is not None and timezone.is_naive(changed_at):  # SQLite stores UTC without the zone
        changed_at = changed_at.replace(tzinfo=datetime.UTC)
    return version, changed_at


def public_sources():
    """Sources readers may see: those something published rests on (a published pledge or one of its status
    events, a disclosed membership, figures of a nation)."""
    published = published_pledges()
    return Source.objects.filter(
        Q(pk__in=published.values("sources")) | Q(pk__in=StatusEvent.objects.filter(
            pledge__in=published).values("source")) | Q(pk__in=Membership.objects.filter(
                is_disclosed=True).values("source")) | Q(pk__in=NationFigures.objects.values("source")))


def public_nations():
    """Nations readers may see: those with a published pledge or a disclosed membership."""
    return Nation.objects.filter(Q(pk__in=published_pledges().values("nation"))
                                 | Q(pk__in=Membership.objects.filter(is_disclosed=True).values("nation")))


def public_objectives():
    """Objectives readers may see: those a published pledge counts towards, and those no pledge does yet (a
    coalition's aims, set by editors); not one that only drafts use."""
    return Objective.objects.filter(Q(pk__in=published_pledges().values("objectives")) | Q(pledges=None)).distinct()


def readers_see(record):
    """Whether a change to `record` changes what readers see (for the public data version)."""
    if isinstance(record, Pledge):
        return record.publication == Pledge.Publication.PUBLISHED or record.published_when_loaded
    if isinstance(record, StatusEvent | PledgeItem):
        return published_pledges().filter(pk=record.pledge_id).exists()
    if isinstance(record, ItemDelivery):
        return published_pledges().filter(status_events=record.event_id).exists()
    if isinstance(record, Source):
        return public_sources().filter(pk=record.pk).exists()
    if isinstance(record, Nation):
        return public_nations().filter(pk=record.pk).exists()
    if isinstance(record, Objective):
        return public_objectives().filter(pk=record.pk).exists()
    if isinstance(record, NationFigures):
        return public_nations().filter(pk=record.nation_id).exists()
    return True  # coalitions, memberships, anything else: count as seen


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

    On a past day, pledges not yet announced then (or with no known date at all) are left out.

    Today's state is the pledge's own columns: the services keep them equal to its open period on every write
    (status events cannot be dated after today, nor can figures take effect later), so today's totals are a plain
    aggregate over one table, with no join to the periods."""
    if "state_status" in pledges.query.annotations:
        return pledges
    if as_of is None:
        return pledges.annotate(**{f"state_{name}": F(name) for name in STATE_FIELDS})
    return pledges.annotate(
        state=FilteredRelation("periods", condition=period_on_q(as_of, "periods__"))
    ).filter(state__isnull=False).annotate(**{f"state_{name}": F(f"state__{name}") for name in STATE_FIELDS})


def undated_count(pledges):
    """How many of these pledges have no known date and no status event: they count today, on no past day."""
    return pledges.filter(pk__in=PledgePeriod.objects.filter(valid_from__isnull=True).values("pledge_id")).count()


def _figure_parts(pledges, keys, valuation, extra=None):
    """`pledges` (read with_state) grouped by `keys` and by what decides which figures each pledge counts in (its
    status, deliveries, conditionality, nation and example flag), with each group's count and sums: a few thousand
    groups, where every figure as a filtered aggregate costs PostgreSQL about three times as long over a million
    pledges (docs/benchmarks.md). _fold_figures adds them up."""
    decided_by = ["state_status", "state_is_conditional", PASSES_THROUGH, "is_example", "deliveries_reported"]
    value, delivered = "state_" + VALUATIONS[valuation], "state_delivered_eur"
    return (pledges.annotate(deliveries_reported=ExpressionWrapper(deliveries_reported_q(),
                                                                   output_field=BooleanField()))
            .values(*dict.fromkeys([*keys, *decided_by]))
            .annotate(part_pledges=Count("pk"), part_value=Sum(value), part_value_valued=Count(value),
                      part_delivered=Sum(delivered), part_delivered_valued=Count(delivered), **(extra or {}))
            .order_by())


def _no_figures(quantities=False):
    row = {"pledges": 0, "pass_through": 0, "example_pledges": 0}
    for commitment in COMMITMENTS:
        for stage in STAGES:
            row.update({f"{commitment}_{stage}_pledges": 0, f"{commitment}_{stage}_eur": None,
                        f"{commitment}_{stage}_valued": 0})
        if quantities:
            row.update({f"{commitment}_quantity": None, f"{commitment}_quantified": 0,
                        f"{commitment}_undisclosed": 0})
    return row


def _plus(total, value):
    """A sum that stays unknown (None) until a known value is added, as SQL's SUM does."""
    return value if total is None else total if value is None else total + value


def _fold_figures(into, part):
    """Add one group of _figure_parts to a row of figures: for firm or conditional pledges, each stage it reaches
    (in_stage) counts its pledges, sums their values and counts those valued; pass-through bodies count in none
    (COUNTED)."""
    count = part["part_pledges"]
    into["pledges"] += count
    if part["is_example"]:
        into["example_pledges"] += count
    if part[PASSES_THROUGH]:
        into["pass_through"] += count
        return into
    commitment = "conditional" if part["state_is_conditional"] else "firm"
    for stage in STAGES:
        if in_stage(stage, part["state_status"], part["deliveries_reported"]):
            value = f"part_{STAGE_SUMS[stage]}"
            into[f"{commitment}_{stage}_pledges"] += count
            into[f"{commitment}_{stage}_eur"] = _plus(into[f"{commitment}_{stage}_eur"], part[value])
            into[f"{commitment}_{stage}_valued"] += part[f"{value}_valued"]
    if "part_quantity" in part and in_stage("announced", part["state_status"], part["deliveries_reported"]):
        into[f"{commitment}_quantity"] = _plus(into[f"{commitment}_quantity"], part["part_quantity"])
        into[f"{commitment}_quantified"] += part["part_quantified"]
        into[f"{commitment}_undisclosed"] += part["part_undisclosed"]
    return into


# Objective coverage in units: what announced pledges in the target's unit add up to, known and undisclosed.
IN_TARGET_UNIT = Q(state_unit=F("objectives__target_unit"))
QUANTITY_PARTS = {"part_quantity": Sum("state_quantity", filter=IN_TARGET_UNIT),
                  "part_quantified": Count("state_quantity", filter=IN_TARGET_UNIT),
                  "part_undisclosed": Count("pk", filter=IN_TARGET_UNIT & Q(state_quantity_undisclosed=True))}


# What each grouping of summarize() groups by (the groupings themselves: summaries.GROUPINGS): nations and
# objectives by id, their descriptions read afterwards (grouping a million rows by text columns costs more).
GROUPED_BY = {"totals": [], "coalition": ["coalition"], "nation": ["nation"], "objective": ["objectives"],
              "kind": ["kind"], "status": ["state_status"]}
DESCRIBED_BY = {
    "coalition": (Coalition, ["slug", "name", "is_example"]),
    "nation": (Nation, ["slug", "name", "country", "kind", "is_example", "is_pass_through"]),
    "objective": (Objective, ["slug", "title", "is_example", "target_eur", "target_quantity", "target_unit",
                              "position"]),
}


def summarize(pledges, by="totals", valuation="ecb"):
    """Totals of pledges already read `with_state`, overall or per coalition, nation, objective, kind or status.

    Each row holds, for firm and for conditional pledges and for each stage, how many pledges it counts, the
    sum of their known values and how many of them have one; plus `pledges` (every pledge in the row) and
    `pass_through` (listed, never counted). A pledge towards several objectives counts in full towards each."""
    keys = [*GROUPED_BY[by], "nation"] if by == "totals" else GROUPED_BY[by]
    rows, nations = {}, set()
    for part in _figure_parts(pledges, keys, valuation, extra=QUANTITY_PARTS if by == "objective" else None):
        if by == "objective" and part["objectives"] is None:
            continue  # pledges towards no objective form a group of their own, with no objective: not a row
        if by == "totals":
            nations.add(part["nation"])
        key = tuple(part[name] for name in GROUPED_BY[by])
        if key not in rows:
            rows[key] = {**{name: part[name] for name in GROUPED_BY[by]}, **_no_figures(by == "objective")}
        _fold_figures(rows[key], part)
    if by == "totals":
        return [{**rows.get((), _no_figures()), "nations": len(nations)}]
    if by in DESCRIBED_BY:
        model, fields = DESCRIBED_BY[by]
        [key] = GROUPED_BY[by]
        described = model.objects.in_bulk([row[key] for row in rows.values()])
        for row in rows.values():
            row.update({f"{key}__{name}": getattr(described[row[key]], name) for name in fields})
    return list(rows.values())


def timeline_rows(pledges, state_q=None, valuation="ecb", end=None):
    """Month by month, the totals as they stood at each month's end (the last month: on `end`, default today).

    `pledges` are the pledges in view (filtered on what does not change over time); `state_q` filters their
    periods (stage, status, conditionality, with no prefix). Each period adds to the month it starts in and
    leaves in the month it ends, so the running sum at a month's end is exactly the "as of" total that day.
    Returns [(month's first day, the day its figures stand on, {aggregate: value})]."""
    end = end or today()
    periods = PledgePeriod.objects.filter(pledge__in=pledges.values("pk")).filter(state_q or Q())
    counted = Q(**{f"pledge__{PASSES_THROUGH}": False})
    aggregates = {"pledges": Count("id"), "example_pledges": Count("id", filter=Q(pledge__is_example=True)),
                  **_figure_aggregates(valuation, prefix="", counted=counted)}
    # Grouped by month alone, as filtered aggregates: grouped also by what decides each figure (as summarize()
    # is), PostgreSQL sorts the million periods on disk and takes longer (docs/benchmarks.md).
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


# The pledge read model: pledges as the API gives them (and its downloads), read in bulk.

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def micros(moment):
    """Whole microseconds since 1970: exact, unlike a float timestamp, and computable in SQL too."""
    return (moment - EPOCH) // datetime.timedelta(microseconds=1)


PLEDGE_COLUMNS = [
    "id", "kind", "description", "quantity", "unit", "quantity_undisclosed", "amount", "currency", "eur_value",
    "eur_rate", "eur_rate_date", "valuation_basis", "source_eur_value", "is_conditional", "condition", "announced_on",
    "announced_precision", "earmarked_from", "earmarked_to", "disclosure", "status", "delivered_quantity",
    "delivered_eur", "publication", "published_at", "is_example", "created_at", "updated_at",
]
EVENT_COLUMNS = ["pledge_id", "id", "status", "occurred_on", "source_id", "note", "delivered_quantity",
                 "delivered_eur"]  # pledge_id and source_id are renamed in responses


# On PostgreSQL a page's rows are read with fixed statements: the ids were chosen by the ORM (filters, visibility,
# cursor), and reading 100 known rows with their objectives, sources and status events needs no query building.
# Its output matches the ORM path below, which SQLite uses; the same tests run on both.
# Timestamps come back as RFC 3339 text, and the version is computed by the database: Django's timezone-aware
# timestamp loader is pure Python and was most of the cost of reading a page.
TIMESTAMPS = {"published_at", "created_at", "updated_at"}
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"


def _pg_column(column):
    if column in TIMESTAMPS:
        return f"""to_char(p.{column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') AS {column}"""
    return f"p.{column}"


# Four flat statements, sent in one round trip (see _pg_page): the pledges, their status events, objective slugs
# and source ids. Per-row subqueries (arrays, JSON) cost the database and the client more than these flat reads.
PG_STATEMENTS = [
    "SELECT " + ", ".join(_pg_column(column) for column in PLEDGE_COLUMNS) + ", "
    """'"pledge-' || p.id || '-' || (EXTRACT(EPOCH FROM p.updated_at) * 1000000)::bigint || '"' AS version, """
    "c.slug AS coalition_slug, "
    "n.slug AS nation_slug, n.name AS nation_name, n.country AS nation_code, n.kind AS nation_kind "
    "FROM commitments_pledge p JOIN commitments_coalition c ON c.id = p.coalition_id "
    "JOIN commitments_nation n ON n.id = p.nation_id WHERE p.id {pledges}",
    "SELECT e.pledge_id, e.id, e.status, e.occurred_on, e.source_id, e.note, e.delivered_quantity::text, "
    "e.delivered_eur::text FROM commitments_statusevent e WHERE e.pledge_id {pledges} ORDER BY e.occurred_on, e.id",
    "SELECT po.pledge_id, o.slug FROM commitments_pledge_objectives po JOIN commitments_objective o "
    "ON o.id = po.objective_id WHERE po.pledge_id {pledges} ORDER BY o.position, o.id",
    "SELECT ps.pledge_id, ps.source_id FROM commitments_pledge_sources ps WHERE ps.pledge_id {pledges} "
    "ORDER BY ps.source_id",
    # Item lines, each with every delivery reported of it (in date order), or one row with no delivery.
    "SELECT i.pledge_id, i.id, i.name, i.item_type, i.sub_type, i.quantity::text, i.quantity_undisclosed, "
    "i.unit_price::text, i.unit_price_currency, d.quantity::text, d.quantity_undisclosed, e.occurred_on "
    "FROM commitments_pledgeitem i LEFT JOIN commitments_itemdelivery d ON d.item_id = i.id "
    "LEFT JOIN commitments_statusevent e ON e.id = d.event_id WHERE i.pledge_id {pledges} "
    "ORDER BY i.position, i.id, e.occurred_on, e.id",
]
ITEM_KEYS = ["id", "name", "item_type", "sub_type", "quantity", "quantity_undisclosed", "unit_price",
             "unit_price_currency"]
PG_PAGE = [statement.replace("{pledges}", "= ANY(%s::bigint[])") for statement in PG_STATEMENTS]
EVENT_KEYS = ["id", "status", "occurred_on", "source", "note", "delivered_quantity", "delivered_eur"]


def _pg_page(ids):
    """The statements' results, sent together (pipeline mode) as prepared statements: PostgreSQL plans each once per
    connection instead of on every page, which was a third of the database's time for a page."""
    connection = connections[router.db_for_read(Pledge)]
    # The ids go in as one array literal: quoting a list element by element cost more than the query.
    literal = "{" + ",".join(str(int(pk)) for pk in ids) + "}"
    connection.ensure_connection()
    started = time.monotonic()
    with connection.wrap_database_errors:
        raw = connection.connection
        with raw.pipeline():
            cursors = [psycopg.Cursor(raw) for _ in PG_PAGE]
            for cursor, statement in zip(cursors, PG_PAGE, strict=True):
                cursor.execute(statement, [literal], prepare=True)
        results = [cursor.fetchall() for cursor in cursors]
        names = [column.name for column in cursors[0].description]
    if connection.queries_logged:  # as Django's own cursors do, so query counts and logs include these
        duration = (time.monotonic() - started) / len(PG_PAGE)
        connection.queries_log.extend({"sql": statement.replace("%s", f"'{literal}'"), "time": f"{duration:.3f}"}
                                      for statement in PG_PAGE)
    return names, results


def _pg_rows(ids):
    names, (pledges, event_rows, objective_rows, source_rows, item_rows) = _pg_page(ids)
    rows = [dict(zip(names, row, strict=True)) for row in pledges]
    events, objectives, sources, items = {}, {}, {}, {}
    for pledge_id, *event in event_rows:
        events.setdefault(pledge_id, []).append(dict(zip(EVENT_KEYS, event, strict=True)))
    for pledge_id, slug in objective_rows:
        objectives.setdefault(pledge_id, []).append(slug)
    for pledge_id, source_id in source_rows:
        sources.setdefault(pledge_id, []).append(source_id)
    deliveries = {}
    for pledge_id, *item in item_rows:
        *item, quantity, undisclosed, occurred_on = item
        if item[0] not in deliveries:
            items.setdefault(pledge_id, []).append(dict(zip(ITEM_KEYS, item, strict=True)))
            deliveries[item[0]] = []
        if occurred_on is not None:
            deliveries[item[0]].append((occurred_on, quantity, undisclosed))
    for row in rows:
        row["objectives"] = objectives.get(row["id"], [])
        row["sources"] = sources.get(row["id"], [])
        row["status_events"] = events.get(row["id"], [])
        row["items"] = items.get(row["id"], [])
        for item in row["items"]:
            item["deliveries"] = deliveries.get(item["id"], [])
    return rows


def _rows(ids):
    """The pledges with these ids, each with objectives, sources and status_events."""
    if connections[router.db_for_read(Pledge)].vendor == "postgresql":
        return _pg_rows(ids)
    rows = list(Pledge.objects.filter(pk__in=ids).values(
        *PLEDGE_COLUMNS, coalition_slug=F("coalition__slug"), nation_slug=F("nation__slug"),
        nation_name=F("nation__name"), nation_code=F("nation__country"), nation_kind=F("nation__kind")))
    objectives, sources, events = {}, {}, {}
    for row in Pledge.objectives.through.objects.filter(pledge_id__in=ids).values(
            "pledge_id", slug=F("objective__slug")).order_by("objective__position", "objective_id"):
        objectives.setdefault(row["pledge_id"], []).append(row["slug"])
    for row in Pledge.sources.through.objects.filter(pledge_id__in=ids).values(
            "pledge_id", "source_id").order_by("source_id"):
        sources.setdefault(row["pledge_id"], []).append(row["source_id"])
    for event in StatusEvent.objects.filter(pledge_id__in=ids).order_by("occurred_on", "id").values(*EVENT_COLUMNS):
        pledge_id = event.pop("pledge_id")
        event["source"] = event.pop("source_id")
        events.setdefault(pledge_id, []).append(event)
    items, deliveries = {}, {}
    for item in PledgeItem.objects.filter(pledge_id__in=ids).order_by("position", "id").values("pledge_id",
                                                                                               *ITEM_KEYS):
        items.setdefault(item.pop("pledge_id"), []).append(item)
    reported = ItemDelivery.objects.filter(event__pledge_id__in=ids) if items else ItemDelivery.objects.none()
    for item_id, quantity, undisclosed, occurred_on in reported.order_by("event__occurred_on", "event_id").values_list(
            "item_id", "quantity", "quantity_undisclosed", "event__occurred_on"):
        deliveries.setdefault(item_id, []).append((occurred_on, quantity, undisclosed))
    for row in rows:
        row["objectives"] = objectives.get(row["id"], [])
        row["sources"] = sources.get(row["id"], [])
        row["status_events"] = events.get(row["id"], [])
        row["items"] = items.get(row["id"], [])
        for item in row["items"]:
            item["deliveries"] = deliveries.get(item["id"], [])
        row["version"] = f'"pledge-{row["id"]}-{micros(row["updated_at"])}"'
        for column in TIMESTAMPS:  # the same text as the PostgreSQL path gives
            if row[column] is not None:
                row[column] = row[column].astimezone(datetime.UTC).strftime(TIMESTAMP_FORMAT)
    return rows


def pledge_representations(ids, as_of=None):
    """JSON-ready dicts for the pledges with these ids, in the order given."""
    ids = list(ids)
    rows = []
    for start in range(0, len(ids), 500):  # SQLite limits how many values one query may carry
        rows.extend(_rows(ids[start:start + 500]))
    position = {pledge_id: index for index, pledge_id in enumerate(ids)}
    rows.sort(key=lambda row: position[row["id"]])
    return _finish(rows, as_of)


AS_OF_FIELDS = ["status", "delivered_quantity", "delivered_eur", "is_conditional", "eur_value", "source_eur_value",
                "quantity", "unit", "quantity_undisclosed"]


def _finish(rows, as_of):
    cutoff = as_of.isoformat() if as_of is not None else None
    states = {}
    if as_of is not None:  # the figures in force that day, from each pledge's period (timeline.py derives them)
        states = {p["pledge_id"]: p for p in PledgePeriod.objects.filter(
            period_on_q(as_of), pledge_id__in=[row["id"] for row in rows]).values("pledge_id", *AS_OF_FIELDS)}
    for row in rows:
        if cutoff is not None:
            # ISO dates compare as text, whether the database gave dates or strings.
            row["status_events"] = [e for e in row["status_events"] if str(e["occurred_on"]) <= cutoff]
            state = states.get(row["id"])
            for name in AS_OF_FIELDS:
                row[name] = state[name] if state else None
            if state is None:
                row["status"] = None  # not yet announced that day
        for item in row["items"]:
            delivered = [d for d in item.pop("deliveries") if cutoff is None or str(d[0]) <= cutoff]
            item["delivered_quantity"], item["delivered_undisclosed"], item["delivered_on"] = (
                (delivered[-1][1], delivered[-1][2], delivered[-1][0]) if delivered else (None, False, None))
        row["coalition"] = row.pop("coalition_slug")
        row["nation"] = {"slug": row.pop("nation_slug"), "name": row.pop("nation_name"),
                         "code": row.pop("nation_code"), "kind": row.pop("nation_kind")}
    return rows


def kept_upload(digest):
    """The bytes of a file kept for import (services.keep_upload) by its SHA-256, or None (unknown, or expired)."""
    if not re.fullmatch(r"[0-9a-f]{64}", digest or ""):
        return None
    data = ImportUpload.objects.filter(digest=digest, uploaded_at__gte=timezone.now() - ImportUpload.KEPT).values_list(
        "data", flat=True).first()
    return None if data is None else bytes(data)


# Releases


def release_scopes():
    """The queries a release freezes every summary for: the whole tracker, each coalition, each nation and each
    objective with a published pledge, each in both valuations."""
    published = published_pledges()
    scopes = [{}]
    scopes += [{"coalition": slug} for slug in Coalition.objects.filter(
        pk__in=published.values("coalition")).order_by("slug").values_list("slug", flat=True)]
    scopes += [{"nation": slug} for slug in Nation.objects.filter(
        pk__in=published.values("nation")).order_by("slug").values_list("slug", flat=True)]
    scopes += [{"coalition": coalition, "objective": slug} for coalition, slug in Objective.objects.filter(
        pk__in=published.values("objectives")).order_by("coalition__slug", "slug").values_list("coalition__slug",
                                                                                               "slug")]
    return [{**scope, **valuation} for scope in scopes for valuation in ({}, {"valuation": "source"})]


def latest_release():
    return Release.objects.order_by("-number").first()


def release_document(release, query_key, grouping):
    """The summary document `release` answered for this query and grouping, or None when it froze none."""
    return ReleaseDocument.objects.filter(release=release, query=query_key, grouping=grouping).values_list(
        "document", flat=True).first()


def release_document_exists(release, query_key):
    return ReleaseDocument.objects.filter(release=release, query=query_key).exists()


RELEASED_SHOWN = ["pledge_id", "nation__name", "nation__slug", "coalition__name", *ReleasedPledge.COMPARED]


def release_changes(newer, older):
    """What changed in published figures from the earlier of two releases to the later (given in either order):
    a list of {"pledge_id", "change" (added, revised, withdrawn), "correction", "nation", "coalition",
    "description", "fields": [(label, old, new)], "reasons": [(when, reason, source)]}, by nation then pledge.

    A revision is a correction when it changed more than progress (status and deliveries): it corrects a figure
    that appeared in `older`. Reasons and sources come from the pledge's history between the two cuts: the
    published saves for an added or revised pledge, the save that withdrew it for a withdrawn one."""
    if older.number > newer.number:  # always forward in time: "withdrawn" must mean withdrawn, reasons included
        older, newer = newer, older
    before = {row["pledge_id"]: row for row in older.released_pledges.values(*RELEASED_SHOWN)}
    after = {row["pledge_id"]: row for row in newer.released_pledges.values(*RELEASED_SHOWN)}
    compared = {name: ReleasedPledge._meta.get_field(name) for name in ReleasedPledge.COMPARED}
    changes = []
    for pledge_id in sorted(before.keys() | after.keys()):
        old, new = before.get(pledge_id), after.get(pledge_id)
        if old is None:
            change, fields = "added", []
        elif new is None:
            change, fields = "withdrawn", []
        else:
            fields = [name for name in ReleasedPledge.COMPARED if old[name] != new[name]]
            if not fields:
                continue
            change = "revised"
        row = new or old
        changes.append({
            "pledge_id": pledge_id, "change": change,
            "correction": change == "revised" and bool(set(fields) - ReleasedPledge.PROGRESS),
            "nation": row["nation__name"], "nation_slug": row["nation__slug"], "coalition": row["coalition__name"],
            "description": row["description"],
            "fields": [(LABELS[name], shown_figure(old[name], compared[name], old["currency"]),
                        shown_figure(new[name], compared[name], new["currency"])) for name in fields],
            "reasons": [],
        })
    _attach_reasons(changes, older.cut_at, newer.cut_at)
    return sorted(changes, key=lambda c: (c["nation"], c["pledge_id"]))


def _attach_reasons(changes, since, until):
    by_id = {change["pledge_id"]: change for change in changes}
    history = Pledge.history.model.objects.filter(history_date__gt=since, history_date__lte=until)
    records = []
    ids = list(by_id)
    for start in range(0, len(ids), 500):  # SQLite limits the values one statement may carry
        records += history.filter(id__in=ids[start:start + 500]).values(
            "id", "history_date", "history_type", "history_change_reason", "history_source_id", "publication")
    sources = {source.pk: source for source in Source.objects.filter(
        pk__in={r["history_source_id"] for r in records if r["history_source_id"]})}
    for record in sorted(records, key=lambda r: r["history_date"]):
        change = by_id[record["id"]]
        withdrawing = record["history_type"] == "-" or record["publication"] != Pledge.Publication.PUBLISHED
        if withdrawing != (change["change"] == "withdrawn") or (withdrawing and change["reasons"]):
            continue  # a draft's own edits are not readers' business; a withdrawal shows only its own reason
        change["reasons"].append((record["history_date"], record["history_change_reason"] or "",
                                  sources.get(record["history_source_id"])))


def releases_holding(pledge_id):
    """The releases a pledge appeared in, oldest first (without their files)."""
    return Release.objects.filter(released_pledges__pledge_id=pledge_id).only("number", "title", "cut_at").order_by(
        "number")


# The change feed

FEED_FIELDS = ["description", "kind", "quantity", "unit", "quantity_undisclosed", "amount", "currency", "eur_value",
               "is_conditional", "condition", "announced_on", "status", "delivered_quantity", "delivered_eur"]


def public_changes(coalition=None, nation=None, limit=50):
    """The latest changes readers saw, newest first: a pledge published, revised while published (a correction
    when it changed more than progress and a release had shown it), moved to a new stage, or withdrawn. Each is a
    dict: id (its history row), when, change (published, corrected, revised, progress, withdrawn), pledge_id,
    nation, coalition, description, fields [(label, old, new)], reason, source, corrects (the release it corrects).

    A draft's own saves are never in it: only saves of a published pledge, and the save that withdrew one."""
    history = Pledge.history.model.objects.all()
    scope = {key: value.pk for key, value in (("coalition_id", coalition), ("nation_id", nation)) if value is not None}
    if scope:
        # Each pledge's whole history, so a row's previous one is the pledge's previous state even where the pledge
        # once belonged elsewhere; rows outside the scope are dropped below, after their neighbours are read.
        history = history.filter(id__in=Pledge.history.model.objects.filter(**scope).values("id"))
    before = {f"was_{name}": Window(Lag(name), partition_by=[F("id")], order_by=[F("history_date"), F("history_id")])
              for name in ["publication", *FEED_FIELDS]}
    rows = history.annotate(**before).filter(
        Q(publication=Pledge.Publication.PUBLISHED) | Q(was_publication=Pledge.Publication.PUBLISHED)
    ).order_by("-history_date", "-history_id").values(
        "history_id", "id", "history_date", "history_type", "history_change_reason", "history_source_id",
        "publication", "coalition_id", "nation_id", "coalition__name", "nation__name", "nation__slug", *FEED_FIELDS,
        *before)
    changes = []
    fields = {name: Pledge._meta.get_field(name) for name in FEED_FIELDS}
    for row in rows.iterator(chunk_size=500):
        if any(row[key] != value for key, value in scope.items()):
            continue
        change = _public_change(row, fields)
        if change is not None:
            changes.append(change)
            if len(changes) == limit:
                break
    _attach_feed_context(changes)
    return changes


def _public_change(row, fields):
    published = Pledge.Publication.PUBLISHED
    was_published = row["was_publication"] == published
    changed = [name for name in FEED_FIELDS if was_published and row[name] != row[f"was_{name}"]]
    if row["history_type"] == "-" or row["publication"] != published:
        if not was_published and row["history_type"] != "-":
            return None
        change = "withdrawn"
    elif not was_published:
        change = "published"
    elif not changed:
        return None  # bookkeeping, or fields readers do not see
    elif set(changed) <= ReleasedPledge.PROGRESS:
        change = "progress"
    else:
        change = "revised"
    return {
        "id": row["history_id"], "when": row["history_date"], "change": change, "pledge_id": row["id"],
        "nation": row["nation__name"], "nation_slug": row["nation__slug"], "coalition": row["coalition__name"],
        # A withdrawal shows the pledge as readers last saw it, whatever the withdrawing save held.
        "description": row["was_description"] if change == "withdrawn" and row["publication"] != published
        else row["description"], "reason": row["history_change_reason"] or "",
        "source_id": row["history_source_id"],
        "fields": [(LABELS[name], shown_figure(row[f"was_{name}"], fields[name], row["was_currency"]),
                    shown_figure(row[name], fields[name], row["currency"]))
                   for name in changed if change in ("revised", "progress")],
    }


def _attach_feed_context(changes):
    """Each change's cited source, and for a revision, the release it corrects (the latest cut before it that
    held the pledge): such a revision is a correction."""
    sources = Source.objects.in_bulk({c["source_id"] for c in changes if c["source_id"]})
    revised = {c["pledge_id"] for c in changes if c["change"] == "revised"}
    held = {}
    for pledge_id, number, cut_at in ReleasedPledge.objects.filter(pledge_id__in=revised).values_list(
            "pledge_id", "release__number", "release__cut_at").order_by("release__number"):
        held.setdefault(pledge_id, []).append((number, cut_at))
    for change in changes:
        change["source"] = sources.get(change.pop("source_id"))
        change["corrects"] = next((number for number, cut_at in reversed(held.get(change["pledge_id"], []))
                                   if cut_at < change["when"]), None) if change["change"] == "revised" else None
        if change["corrects"] is not None:
            change["change"] = "corrected"
