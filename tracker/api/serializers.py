"""What the API reads and writes.

Pledge lists are built from plain rows and bulk look-ups (objectives, sources, status events)
rather than one serializer object per field per row: the same figures, several times faster. The
PledgeSerializer below documents that shape for the OpenAPI schema; tests check real responses against it.
"""
import time
from datetime import UTC

import psycopg
from django.db import connections, transaction
from django.db.models import F
from rest_framework import serializers

from tracker.commitments import selectors, services
from tracker.commitments.models import (
    Coalition,
    ItemDelivery,
    Membership,
    Nation,
    NationFigures,
    Objective,
    Pledge,
    PledgeItem,
    PledgePeriod,
    Source,
    StatusEvent,
)

from .conditional import micros, record_etag

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
    "SELECT i.pledge_id, i.id, i.name, i.item_type, i.sub_type, i.quantity::text, i.quantity_undisclosed, "
    "i.unit_price::text, i.unit_price_currency FROM commitments_pledgeitem i WHERE i.pledge_id {pledges} "
    "ORDER BY i.position, i.id",
    "SELECT d.item_id, d.quantity::text, d.quantity_undisclosed, e.occurred_on FROM commitments_itemdelivery d "
    "JOIN commitments_statusevent e ON e.id = d.event_id WHERE e.pledge_id {pledges} ORDER BY e.occurred_on, e.id",
]
ITEM_KEYS = ["id", "name", "item_type", "sub_type", "quantity", "quantity_undisclosed", "unit_price",
             "unit_price_currency"]
PG_PAGE = [statement.replace("{pledges}", "= ANY(%s::bigint[])") for statement in PG_STATEMENTS]
EVENT_KEYS = ["id", "status", "occurred_on", "source", "note", "delivered_quantity", "delivered_eur"]


def _pg_page(ids):
    """The four statements' results, sent together (pipeline mode) as prepared statements: PostgreSQL plans each
    once per connection instead of on every page, which was a third of the database's time for a page."""
    connection = connections["default"]
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
    names, (pledges, event_rows, objective_rows, source_rows, item_rows, delivery_rows) = _pg_page(ids)
    rows = [dict(zip(names, row, strict=True)) for row in pledges]
    events, objectives, sources, items = {}, {}, {}, {}
    for pledge_id, *event in event_rows:
        events.setdefault(pledge_id, []).append(dict(zip(EVENT_KEYS, event, strict=True)))
    for pledge_id, slug in objective_rows:
        objectives.setdefault(pledge_id, []).append(slug)
    for pledge_id, source_id in source_rows:
        sources.setdefault(pledge_id, []).append(source_id)
    for pledge_id, *item in item_rows:
        items.setdefault(pledge_id, []).append(dict(zip(ITEM_KEYS, item, strict=True)))
    deliveries = {}
    for item_id, quantity, undisclosed, occurred_on in delivery_rows:
        deliveries.setdefault(item_id, []).append((occurred_on, quantity, undisclosed))
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
    if connections["default"].vendor == "postgresql":
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
    for item_id, quantity, undisclosed, occurred_on in ItemDelivery.objects.filter(
            event__pledge_id__in=ids).order_by("event__occurred_on", "event_id").values_list(
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
                row[column] = row[column].astimezone(UTC).strftime(TIMESTAMP_FORMAT)
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
            selectors.period_on_q(as_of), pledge_id__in=[row["id"] for row in rows]).values("pledge_id", *AS_OF_FIELDS)}
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


class NationRefSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    code = serializers.CharField(allow_null=True, help_text="ISO 3166-1 alpha-2; null for bodies")
    kind = serializers.ChoiceField(choices=Nation.Kind.choices)


class StatusEventSerializer(serializers.ModelSerializer):
    source = serializers.PrimaryKeyRelatedField(queryset=Source.objects.all())

    class Meta:
        model = StatusEvent
        fields = ["id", "status", "occurred_on", "source", "note", "delivered_quantity", "delivered_eur"]
        read_only_fields = ["id"]


class PledgeItemSerializer(serializers.ModelSerializer):
    delivered_quantity = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True,
                                                  help_text="units delivered in total by the as-of date (or today)")
    delivered_undisclosed = serializers.BooleanField(help_text="deliveries reported without a number")
    delivered_on = serializers.DateField(allow_null=True, help_text="date of the status event reporting them")

    class Meta:
        model = PledgeItem
        fields = ["id", "name", "item_type", "sub_type", "quantity", "quantity_undisclosed", "unit_price",
                  "unit_price_currency", "delivered_quantity", "delivered_undisclosed", "delivered_on"]


class PledgeSerializer(serializers.ModelSerializer):
    """The shape of a pledge in responses (documentation; see pledge_representations). With `as_of`, its status,
    deliveries and figures (values, quantity, conditionality) are those in force that day."""

    coalition = serializers.SlugField()
    nation = NationRefSerializer()
    objectives = serializers.ListField(child=serializers.SlugField())
    sources = serializers.ListField(child=serializers.IntegerField(), help_text="ids of /api/v1/sources/")
    status_events = StatusEventSerializer(many=True)
    items = PledgeItemSerializer(many=True, help_text="equipment and goods, with units pledged and delivered")
    version = serializers.CharField(help_text="The record's ETag, for If-Match on writes")

    class Meta:
        model = Pledge
        fields = PLEDGE_COLUMNS + ["coalition", "nation", "objectives", "sources", "status_events", "items",
                                   "version"]
        read_only_fields = fields


class StrictInputMixin:
    """Refuses fields the caller may not set (ids, authorship, publication, timestamps) or that do not exist."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            refused = sorted(set(data) - writable)
            if refused:
                raise serializers.ValidationError({name: ["This field cannot be set."] for name in refused})
        return super().to_internal_value(data)


class ChangeNoteMixin(serializers.Serializer):
    change_reason = serializers.CharField(max_length=100, write_only=True, required=False,
                                          help_text="Why: kept in the record's history. Required on updates.")
    change_source = serializers.PrimaryKeyRelatedField(queryset=Source.objects.all(), write_only=True,
                                                       required=False, allow_null=True,
                                                       help_text="id of the source this change rests on")

    def validate(self, attrs):
        if self.instance is not None and not attrs.get("change_reason", "").strip():
            raise serializers.ValidationError({"change_reason": ["Say why this record changes."]})
        return attrs


class AuditedModelSerializer(StrictInputMixin, ChangeNoteMixin, serializers.ModelSerializer):
    """Saves through services: full model validation, database constraints, history with author and reason."""

    def _save(self, instance, validated_data):
        reason = validated_data.pop("change_reason", "") or ("Changed" if instance.pk else "Created")
        source = validated_data.pop("change_source", None)
        many_sources = {field.source for field in self.fields.values()
                        if isinstance(field, serializers.ManyRelatedField)}
        many = {name: validated_data.pop(name) for name in list(validated_data) if name in many_sources}
        for name, value in validated_data.items():
            setattr(instance, name, value)
        user = self.context["request"].user
        with transaction.atomic():
            services.save_record(instance, user=user, reason=reason, source=source)
            for name, values in many.items():
                services.set_related(instance, name, values, user=user, reason=reason, source=source)
        return instance

    def create(self, validated_data):
        return self._save(self.Meta.model(), validated_data)

    def update(self, instance, validated_data):
        return self._save(instance, validated_data)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if hasattr(instance, "updated_at"):
            data["version"] = record_etag(instance)
        return data


class PledgeWriteSerializer(AuditedModelSerializer):
    coalition = serializers.SlugRelatedField(slug_field="slug", queryset=Coalition.objects.all())
    nation = serializers.SlugRelatedField(slug_field="slug", queryset=Nation.objects.all())
    objectives = serializers.PrimaryKeyRelatedField(many=True, queryset=Objective.objects.all(), required=False)
    sources = serializers.PrimaryKeyRelatedField(many=True, queryset=Source.objects.all(), required=False)

    class Meta:
        model = Pledge
        fields = ["id", "coalition", "nation", "objectives", "sources", "kind", "description", "quantity", "unit",
                  "quantity_undisclosed", "amount", "currency", "valuation_basis", "is_conditional", "condition",
                  "announced_on", "announced_precision", "earmarked_from", "earmarked_to", "disclosure",
                  "is_example", "change_reason", "change_source"]
        read_only_fields = ["id"]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        coalition = attrs.get("coalition") or getattr(self.instance, "coalition", None)
        strays = [o.pk for o in attrs.get("objectives", []) if coalition and o.coalition_id != coalition.pk]
        if strays:
            raise serializers.ValidationError({"objectives": [f"Objectives {strays} belong to another coalition."]})
        return attrs


class StatusEventWriteSerializer(StrictInputMixin, serializers.ModelSerializer):
    source = serializers.PrimaryKeyRelatedField(queryset=Source.objects.all())
    change_reason = serializers.CharField(max_length=100, write_only=True, required=False)

    class Meta:
        model = StatusEvent
        fields = ["id", "status", "occurred_on", "source", "note", "delivered_quantity", "delivered_eur",
                  "change_reason"]
        read_only_fields = ["id"]


class CoalitionSerializer(AuditedModelSerializer):
    version = serializers.CharField(read_only=True)

    class Meta:
        model = Coalition
        fields = ["id", "slug", "name", "description", "announced_on", "is_example", "updated_at", "version",
                  "change_reason", "change_source"]
        read_only_fields = ["id", "updated_at"]


class NationFiguresSerializer(serializers.ModelSerializer):
    class Meta:
        model = NationFigures
        fields = ["year", "gdp_eur", "population", "source"]


class NationSerializer(AuditedModelSerializer):
    code = serializers.CharField(source="country", allow_null=True, required=False, allow_blank=True,
                                 help_text="ISO 3166-1 alpha-2; empty for bodies")
    figures = NationFiguresSerializer(many=True, read_only=True)
    version = serializers.CharField(read_only=True)

    class Meta:
        model = Nation
        fields = ["id", "slug", "name", "kind", "code", "is_pass_through", "is_example", "figures", "updated_at",
                  "version", "change_reason", "change_source"]
        read_only_fields = ["id", "updated_at"]

    def validate_code(self, value):
        return value.upper() if value else None


class MembershipSerializer(AuditedModelSerializer):
    coalition = serializers.SlugRelatedField(slug_field="slug", queryset=Coalition.objects.all())
    nation = serializers.SlugRelatedField(slug_field="slug", queryset=Nation.objects.all())
    version = serializers.CharField(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "coalition", "nation", "role", "started_on", "ended_on", "is_disclosed", "source", "note",
                  "is_example", "updated_at", "version", "change_reason", "change_source"]
        read_only_fields = ["id", "updated_at"]


class ObjectiveSerializer(AuditedModelSerializer):
    coalition = serializers.SlugRelatedField(slug_field="slug", queryset=Coalition.objects.all())
    lead_nations = serializers.SlugRelatedField(slug_field="slug", many=True, queryset=Nation.objects.all(),
                                                required=False)
    version = serializers.CharField(read_only=True)

    class Meta:
        model = Objective
        fields = ["id", "coalition", "slug", "title", "capability_area", "description", "target_quantity",
                  "target_unit", "target_eur", "deadline", "lead_nations", "position", "is_example", "updated_at",
                  "version", "change_reason", "change_source"]
        read_only_fields = ["id", "updated_at"]


class SourceSerializer(AuditedModelSerializer):
    version = serializers.CharField(read_only=True)

    class Meta:
        model = Source
        fields = ["id", "title", "publisher", "url", "published_on", "kind", "is_official", "is_example",
                  "updated_at", "version", "change_reason", "change_source"]
        read_only_fields = ["id", "updated_at"]
