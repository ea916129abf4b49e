"""What the API reads and writes.

Pledges are read by the domain's read model (selectors.pledge_representations: plain rows and bulk look-ups rather
than one serializer object per field per row). The PledgeSerializer below documents that shape for the OpenAPI
schema; tests check real responses against it.
"""
import re

from rest_framework import serializers

from tracker.commitments import services
from tracker.commitments.models import (
    Coalition,
    Membership,
    Nation,
    NationFigures,
    Objective,
    Pledge,
    PledgeItem,
    Source,
    StatusEvent,
    validate_date_in_range,
    validate_not_after_today,
)
from tracker.commitments.selectors import PLEDGE_COLUMNS

from .conditional import record_etag


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


def decimal_pattern(field):
    """The strings a DecimalField takes: digits 0-9 within its places, no exponent or plus sign, a minus sign only
    where negative values are allowed, and (where the field is nullable) "" for none. The OpenAPI document gives
    the same pattern."""
    whole = f"{{1,{field.max_whole_digits}}}" if field.max_whole_digits is not None else "+"
    places = f"{{1,{field.decimal_places}}}" if field.decimal_places is not None else "+"
    number = rf"(?:[0-9]{whole}(?:\.[0-9]{places})?|\.[0-9]{places})"
    if field.min_value is None or field.min_value < 0:
        number = "-?" + number
    return rf"^(?:{number})?$" if field.allow_null else rf"^{number}$"


ASCII_FIELDS = (serializers.DecimalField, serializers.IntegerField, serializers.FloatField, serializers.DateField,
                serializers.DateTimeField)


class StrictInputMixin:
    """Refuses fields the caller may not set (ids, authorship, publication, timestamps) or that do not exist, and
    numbers or dates not written with the digits 0-9 (Python would read "１２３" as 123), decimals other than as
    strings of digits (a JSON number such as 0.1 is a binary fraction; the API writes decimals as strings too), and
    text fields given anything but a string."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            refused = sorted(set(data) - writable)
            if refused:
                raise serializers.ValidationError({name: ["This field cannot be set."] for name in refused})
            unreadable = {name: ["Write numbers and dates with the digits 0-9."] for name, value in data.items()
                          if isinstance(value, str) and not value.isascii()
                          and isinstance(self.fields.get(name), ASCII_FIELDS)}
            unreadable.update({
                name: ["Write the number as a string of digits, such as \"1234.50\" (no exponent or plus sign; "
                       "a minus sign only where a value may be negative)."]
                for name, value in data.items()
                if isinstance(self.fields.get(name), serializers.DecimalField) and value is not None
                and not (isinstance(value, str) and re.fullmatch(decimal_pattern(self.fields[name]), value))})
            unreadable.update({  # DRF would take the number 5 as the text "5": the document says text is a string
                name: ["Not a string: write text in quotes."] for name, value in data.items()
                if isinstance(self.fields.get(name), serializers.CharField) and value is not None
                and not isinstance(value, str)})
            if unreadable:
                raise serializers.ValidationError(unreadable)
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
        effective_on = validated_data.pop("figures_effective_on", None)
        many_sources = {field.source for field in self.fields.values()
                        if isinstance(field, serializers.ManyRelatedField)}
        many = {name: validated_data.pop(name) for name in list(validated_data) if name in many_sources}
        for name, value in validated_data.items():
            setattr(instance, name, value)
        user = self.context["request"].user
        with services.one_history_entry():  # one save: one history entry, however many fields and links change
            services.save_record(instance, user=user, reason=reason, source=source, effective_on=effective_on)
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


class ManyIdsField(serializers.ManyRelatedField):
    """A list of record ids, looked up in one query rather than one query per id."""

    def to_internal_value(self, data):
        if isinstance(data, str | dict) or not hasattr(data, "__iter__"):
            self.fail("not_a_list", input_type=type(data).__name__)
        child, ids = self.child_relation, []
        for value in data:
            if isinstance(value, bool) or not isinstance(value, int | str):
                child.fail("incorrect_type", data_type=type(value).__name__)
            if not re.fullmatch(r"[0-9]{1,18}", str(value)):  # ASCII digits, within any database's integers
                child.fail("does_not_exist", pk_value=value)
            ids.append(int(value))
        found = child.get_queryset().in_bulk(ids)
        for pk in ids:
            if pk not in found:
                child.fail("does_not_exist", pk_value=pk)
        return [found[pk] for pk in dict.fromkeys(ids)]


class IdsField(serializers.PrimaryKeyRelatedField):
    @classmethod
    def many_init(cls, *args, **kwargs):
        child = cls(queryset=kwargs.pop("queryset"))
        return ManyIdsField(child_relation=child, **kwargs)


class PledgeWriteSerializer(AuditedModelSerializer):
    figures_effective_on = serializers.DateField(
        write_only=True, required=False, allow_null=True,
        validators=[validate_date_in_range, validate_not_after_today],
        help_text="When changed figures (amount, quantity, conditionality) took effect, for figures as of past "
                  "dates. Default: today.")
    coalition = serializers.SlugRelatedField(slug_field="slug", queryset=Coalition.objects.all())
    nation = serializers.SlugRelatedField(slug_field="slug", queryset=Nation.objects.all())
    objectives = IdsField(many=True, queryset=Objective.objects.all(), required=False)
    sources = IdsField(many=True, queryset=Source.objects.all(), required=False)

    class Meta:
        model = Pledge
        fields = ["id", "coalition", "nation", "objectives", "sources", "kind", "description", "quantity", "unit",
                  "quantity_undisclosed", "amount", "currency", "valuation_basis", "is_conditional", "condition",
                  "announced_on", "announced_precision", "earmarked_from", "earmarked_to", "disclosure",
                  "is_example", "change_reason", "change_source", "figures_effective_on"]
        read_only_fields = ["id"]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        coalition = attrs["coalition"].pk if attrs.get("coalition") else getattr(self.instance, "coalition_id", None)
        strays = [o.pk for o in attrs.get("objectives", []) if coalition and o.coalition_id != coalition]
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
