"""A history entry as an editor reads it.

Each changed field by its label, "old -> new" as the forms show values (choices by name, money grouped, records
by title, never ids); a pledge's objectives and sources as added and removed; and, for a pledge, the status
events and items saved with it. One save is one entry (services.one_history_entry): the rows of the events and
items it wrote carry the instant of the pledge's row.
"""
import datetime
from decimal import Decimal

from django.utils import formats
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import Pledge, PledgeItem, StatusEvent

# A pledge's public fields as readers read their names, in the reader's language (readers' pages and feeds).
LABELS = {
    "description": _("description"), "kind": _("kind"), "quantity": _("quantity"), "unit": _("unit"),
    "quantity_undisclosed": _("quantity undisclosed"), "amount": _("amount"), "currency": _("currency"),
    "eur_value": _("value (EUR)"), "source_eur_value": _("EUR value given by the source"),
    "valuation_basis": _("valuation basis"), "is_conditional": _("is conditional"), "condition": _("condition"),
    "announced_on": _("announced on"), "announced_precision": _("announced precision"),
    "earmarked_from": _("earmarked from"), "earmarked_to": _("earmarked to"), "disclosure": _("disclosure"),
    "status": _("status"), "delivered_quantity": _("delivered quantity"), "delivered_eur": _("delivered (EUR)"),
}
UNSHOWN = {"id", "updated_at", "created_at", "eur_rate", "eur_rate_date"}  # bookkeeping, or shown with the EUR value
VERBS = {"+": "Added", "~": "Changed", "-": "Removed"}


def shown_figure(value, field, currency=""):
    """A pledge's figure as readers read it in a list of changes: as `shown`, a decimal to its field's places (a
    window over history rows returns them unscaled on SQLite), and an amount with its currency."""
    if isinstance(value, Decimal) and getattr(field, "decimal_places", None) is not None:
        value = value.quantize(Decimal(1).scaleb(-field.decimal_places))
    text = shown(value, field)
    return f"{currency} {text}" if field.name == "amount" and value is not None else text


def shown(value, field=None):
    """A value as a person would write it in the form."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if field is not None and field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, Decimal):  # every digit stored, grouped as the reader's language groups them
        return formats.number_format(value, max(0, -value.as_tuple().exponent), use_l10n=True, force_grouping=True)
    if isinstance(value, datetime.datetime):
        return f"{formats.date_format(value, 'DATE_FORMAT')} {formats.time_format(value, 'H:i')}"
    if isinstance(value, datetime.date):
        return formats.date_format(value, "DATE_FORMAT")
    return str(value)


def describe(records):
    """Give each history row (newest first, as the history page lists them) `readable_changes`: a list of
    (what, old, new) for its fields and links, then (what, "", description) for the events and items saved
    with it."""
    records = list(records)
    for index, record in enumerate(records):
        previous = records[index + 1] if index + 1 < len(records) else record.prev_record
        record.readable_changes = _field_changes(record, previous)
    if records and records[0].instance_type is Pledge:
        _attach_saved_with(records)


def _field_changes(record, previous):
    meta = record.instance_type._meta
    if previous is None:  # created: what it was created with
        lines = [(capital(field.verbose_name), "", shown(getattr(record, field.name), field))
                 for field in record.tracked_fields
                 if field.name not in UNSHOWN and getattr(record, field.name) not in (None, "")]
        for field in record._history_m2m_fields:
            titles = _titles(field, [getattr(row, f"{_other(field)}_id") for row in getattr(record, field.name).all()])
            if titles:
                lines.append((capital(field.verbose_name), "", "; ".join(titles)))
        return lines
    lines = []
    delta = record.diff_against(previous, excluded_fields=UNSHOWN, foreign_keys_are_objs=True)
    for change in delta.changes:
        field = meta.get_field(change.field)
        if field.many_to_many:
            name = _other(field)
            old = {getattr(row[name], "pk", row[name]) for row in change.old}
            new = {getattr(row[name], "pk", row[name]) for row in change.new}
            words = [f"{verb}: " + "; ".join(_titles(field, ids)) for verb, ids in
                     (("added", new - old), ("removed", old - new)) if ids]
            lines.append((capital(field.verbose_name), "", ", ".join(words)))
        else:
            lines.append((capital(field.verbose_name), shown(change.old, field), shown(change.new, field)))
    for field in record.tracked_fields:  # derived state (status, deliveries, EUR value), which forms do not edit
        if not field.editable and field.name not in UNSHOWN \
                and getattr(record, field.attname) != getattr(previous, field.attname):
            lines.append((capital(field.verbose_name), shown(getattr(previous, field.name), field),
                          shown(getattr(record, field.name), field)))
    return lines


def _other(field):
    """The column of a link's snapshot that names the linked record (objective, source)."""
    return field.m2m_reverse_field_name()


def _titles(field, ids):
    records = field.related_model.objects.in_bulk(list(ids))
    return sorted(str(records[pk]) if pk in records else f"(deleted, was #{pk})" for pk in ids)


def _attach_saved_with(records):
    pledge_id = records[0].id
    dates = [record.history_date for record in records]
    by_date = {}
    for row in StatusEvent.history.filter(pledge_id=pledge_id, history_date__in=dates).select_related(
            "source").order_by("occurred_on", "history_id"):
        by_date.setdefault(row.history_date, []).append(
            (f"{VERBS[row.history_type]} status event", "", _event(row)))
    for row in PledgeItem.history.filter(pledge_id=pledge_id, history_date__in=dates).order_by("history_id"):
        by_date.setdefault(row.history_date, []).append((f"{VERBS[row.history_type]} item", "", _item(row)))
    for record in records:
        record.readable_changes += by_date.get(record.history_date, [])


def _event(row):
    words = [row.get_status_display(), shown(row.occurred_on)]
    if row.delivered_eur is not None:
        words.append(f"EUR {row.delivered_eur:,} delivered")
    if row.delivered_quantity is not None:
        words.append(f"{row.delivered_quantity:,} delivered")
    if row.source_id:
        words.append(f"source: {row.source}" if row.source else f"source #{row.source_id}")
    return ", ".join(words)


def _item(row):
    units = "undisclosed number of" if row.quantity_undisclosed else shown(row.quantity)
    return f"{units} × {row.name}" + (f" ({row.sub_type})" if row.sub_type else "")


def capital(text):
    text = str(text)
    return text[:1].upper() + text[1:]
