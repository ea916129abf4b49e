"""Every write to the commitment data goes through here: the admin, the API and the importer alike.

Each function validates (model validation plus the database's constraints), runs in one transaction, and leaves
a history entry naming who made the change, why, and which source it rests on. Writes to a pledge also keep its
derived state current: the revision of its figures (when they change) and its periods (timeline.periods), from
which every total and "as of" view is read.

Single records are saved with save_record and friends; many pledges at once (the importer) with
check_pledge_changes then write_pledge_changes, which validate with the same model rules, write with bulk
statements and simple_history's bulk API, and bump the data version once.
"""
import contextvars
import datetime
import hashlib
import itertools
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F, Max, Min
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.urls import reverse
from django.utils import timezone
from simple_history.signals import pre_create_historical_record

from . import filters, selectors, summaries, timeline
from .imports import template
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
    PledgeRevision,
    Release,
    ReleaseDocument,
    ReleasedPledge,
    Source,
    StatusEvent,
)

VERSIONED = [Coalition, Nation, Membership, Objective, Source, Pledge, StatusEvent, NationFigures, PledgeItem,
             ItemDelivery, Pledge.objectives.through, Pledge.sources.through, Objective.lead_nations.through]

PUBLISH_PERMISSION = "commitments.publish_pledge"
BATCH = 1000
CHUNK = 500  # ids per lookup (SQLite limits the values one statement may carry)

# While set, writes do not bump the data version one by one: the block bumps it once, as it ends. The value records
# whether any of the block's writes changed what readers see.
_bumps_deferred = contextvars.ContextVar("commitments_bumps_deferred", default=None)


def _attach_cited_source(sender, instance, history_instance, **kwargs):
    history_instance.history_source = getattr(instance, "_history_source", None)
    entry = _entry.get()
    if entry is not None:  # a status event, item or delivery saved as part of its pledge's entry
        entry.attribute_from(instance)
        history_instance.history_date = entry.date
        pledge_id = getattr(instance, "pledge_id", None) or (
            instance.item.pledge_id if isinstance(instance, ItemDelivery) else None)
        if pledge_id is not None:
            entry.include(pledge_id, created=False)


pre_create_historical_record.connect(_attach_cited_source)


# One save, one history entry


@dataclass
class _Entry:
    date: datetime.datetime
    pledges: dict = field(default_factory=dict)  # pk: whether the entry created it
    saved: dict = field(default_factory=dict)  # pk: the pledge as last saved (its row as it now is)
    links: dict = field(default_factory=dict)  # (pk, "objectives" or "sources"): its links as they now are
    attributed: bool = False
    user: object = None
    reason: str | None = None
    source: object = None

    def include(self, pk, created):
        self.pledges[pk] = self.pledges.get(pk, False) or created

    def attribute_from(self, instance):
        if not self.attributed and hasattr(instance, "_history_user"):
            self.attributed = True
            self.user, self.reason = instance._history_user, instance._change_reason
            self.source = getattr(instance, "_history_source", None)


_entry = contextvars.ContextVar("commitments_history_entry", default=None)


@contextmanager
def one_history_entry():
    """Everything written inside the block is one save, and each pledge it touches gets one history entry.

    The pledge's history row is written as the block ends, with the pledge and its objectives and sources as they
    then are; the rows of the status events, items and deliveries saved with it carry the same instant, which is
    how the pledge's history shows them in that entry. The entry is attributed (user, reason, cited source) like
    the block's first attributed write; the data version moves once."""
    if _entry.get() is not None:
        yield
        return
    entry = _Entry(date=timezone.now())
    token = _entry.set(entry)
    try:
        with transaction.atomic(), one_data_version_bump():
            yield
            _write_entry(entry)
    finally:
        _entry.reset(token)


def _write_entry(entry):
    if not entry.pledges:
        return
    untouched = [pk for pk in entry.pledges if pk not in entry.saved]
    if untouched:  # only their links, items or events changed: their version (ETag) changes all the same
        Pledge.objects.filter(pk__in=untouched).update(updated_at=timezone.now())
    pledges = [entry.saved[pk] for pk in entry.pledges if pk in entry.saved]
    pledges += Pledge.objects.filter(pk__in=untouched).order_by() if untouched else []
    for created in (True, False):
        rows = Pledge.history.bulk_history_create(
            [p for p in pledges if entry.pledges[p.pk] is created], update=not created,
            default_user=_user_or_none(entry.user), default_change_reason=entry.reason, default_date=entry.date,
            custom_historical_attrs={"history_source": entry.source})
        for name in ("objectives", "sources"):
            rows_by_pledge = {row.id: row for row in rows}
            known = {pk: entry.links[pk, name] for pk in rows_by_pledge if (pk, name) in entry.links}
            _snapshot_links(name, {pk: row for pk, row in rows_by_pledge.items() if pk in known}, known)
            _snapshot_links(name, {pk: row for pk, row in rows_by_pledge.items() if pk not in known})


def _snapshot_links(name, history_rows, links=None):
    """Keep in each pledge's history row its links (objectives or sources) as they are now, as simple_history does
    for a single save. `history_rows`: {pledge id: its new history row}; `links`: {pledge id: [through rows]},
    read from the database when not given."""
    through = getattr(Pledge, name).through
    other = "objective_id" if name == "objectives" else "source_id"
    if links is None:
        links = defaultdict(list)
        for chunk in _chunks(history_rows):
            for link in through.objects.filter(pledge_id__in=chunk).order_by():
                links[link.pledge_id].append(link)
    snapshot = getattr(Pledge.history.model, name).model
    snapshot.objects.bulk_create([
        snapshot(id=link.pk, pledge_id=pk, history=history_rows[pk], **{other: getattr(link, other)})
        for pk, pledge_links in links.items() if pk in history_rows for link in pledge_links], batch_size=BATCH)


def _pledge_saving(sender, instance, **kwargs):
    entry = _entry.get()
    if entry is not None and not hasattr(instance, "skip_history_when_saving"):
        entry.attribute_from(instance)
        instance.skip_history_when_saving = instance.history_in_entry = True


def _pledge_saved(sender, instance, created, **kwargs):
    if getattr(instance, "history_in_entry", False):
        _entry.get().include(instance.pk, created)
        if not kwargs.get("action"):
            _entry.get().saved[instance.pk] = instance
        del instance.skip_history_when_saving, instance.history_in_entry


def _pledge_links_changing(sender, instance, action, **kwargs):
    if not isinstance(instance, Pledge):
        return
    if action.startswith("pre_"):
        _pledge_saving(sender, instance)
    else:
        _pledge_saved(sender, instance, created=False, action=action)


pre_save.connect(_pledge_saving, sender=Pledge, dispatch_uid="entry-pledge-saving")
post_save.connect(_pledge_saved, sender=Pledge, dispatch_uid="entry-pledge-saved")
for _through in (Pledge.objectives.through, Pledge.sources.through):
    m2m_changed.connect(_pledge_links_changing, sender=_through, dispatch_uid=f"entry-{_through._meta.label}")


def bump_data_version(public=True):
    """Count one more write (and, if readers can see it, one more public one). Runs inside the writer's
    transaction, so readers see both or neither."""
    now = timezone.now()
    counts = {"version": F("version") + 1, "changed_at": now}
    if public:
        counts.update(public_version=F("public_version") + 1, public_changed_at=now)
    if not DataVersion.objects.filter(pk=1).update(**counts):
        DataVersion.objects.get_or_create(pk=1, defaults={"version": 1, "changed_at": now, **(
            {"public_version": 1, "public_changed_at": now} if public else {})})


@contextmanager
def one_data_version_bump():
    """Writes inside the block bump the data version once, as the block ends, instead of once each.

    Bumping takes a lock on the version's row until the transaction commits; taken last, a long import holds it
    for an instant rather than for all of its writes, so editors saving meanwhile are not kept waiting."""
    if _bumps_deferred.get() is not None:
        yield
        return
    state = {"public": False, "written": False}
    token = _bumps_deferred.set(state)
    try:
        yield
    finally:
        _bumps_deferred.reset(token)
    if state["written"]:  # a block that wrote nothing (an admin page only looked at) moves nothing
        bump_data_version(public=state["public"])


def note_write(public):
    """A write happened: bump the data version now, or (in a one_data_version_bump block) when the block ends."""
    state = _bumps_deferred.get()
    if state is None:
        bump_data_version(public=public)
    else:
        state["public"] = state["public"] or public
        state["written"] = True


def _data_changed(sender, instance=None, **kwargs):
    note_write(instance is None or selectors.readers_see(instance))


def _relations_changed(sender, action, instance=None, **kwargs):
    if action.startswith("post_"):
        note_write(instance is None or selectors.readers_see(instance))


# Connected per model: a receiver for every sender would also stop Django deleting other rows (such as
# derived periods) with a single statement.
for _model in VERSIONED:
    m2m_changed.connect(_relations_changed, sender=_model, dispatch_uid=f"version-m2m-{_model._meta.label}")
    if _model._meta.auto_created:  # link rows: written by services, which count them (and Django deletes them
        continue                   # in one statement only while no receiver asks for each row)
    post_save.connect(_data_changed, sender=_model, dispatch_uid=f"version-save-{_model._meta.label}")
    post_delete.connect(_data_changed, sender=_model, dispatch_uid=f"version-delete-{_model._meta.label}")


def _user_or_none(user):
    return user if user is not None and user.is_authenticated else None


def _attribute(instance, *, user, reason, source):
    instance._history_user = _user_or_none(user)
    instance._change_reason = (reason or "").strip()[:100] or None
    instance._history_source = source


# What a pledge's revisions and periods are derived from: when none of it changes, neither do they.
DERIVED_FROM = {*timeline.FIGURE_NAMES, "announced_on"}


def save_record(instance, *, user, reason="", source=None, effective_on=None):
    """Validate and save any commitments record, attributed to `user` with a reason and cited source.

    For a pledge, `effective_on` is the day changed figures (amount, value, quantity, conditionality) take
    effect, for "as of" views: default today; a new pledge's figures count from its start. A pledge read from the
    database has only its changed fields checked again (with every rule across fields), and its revisions and
    periods derived again only when what they derive from changed."""
    unchanged = instance.unchanged_fields() if isinstance(instance, Pledge) else []
    instance.full_clean(exclude=unchanged)
    _attribute(instance, user=user, reason=reason, source=source)
    created = instance.pk is None
    with one_history_entry():
        instance.save()
        if isinstance(instance, Pledge) and DERIVED_FROM - set(instance.unchanged_fields()):
            loaded = instance.loaded_values
            record_revision(instance, effective_on, timeline.Figures.of(SimpleNamespace(**{
                name: loaded[name] for name in timeline.FIGURE_NAMES})) if set(timeline.FIGURE_NAMES) <= set(
                loaded) else None)
            rebuild_periods([instance.pk], {instance.pk: instance.announced_on})
        elif isinstance(instance, Nation) and created:
            add_nation_figures([instance], user=user)
    if isinstance(instance, Pledge):
        instance.loaded_values = {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}
    return instance


def delete_record(instance, *, user, reason=""):
    """Delete a record (an item line, an item delivery), attributed in its history."""
    _attribute(instance, user=user, reason=reason or "Removed", source=None)
    with one_history_entry():
        instance.delete()


def _save_attributed(instance, *, user, reason, source):
    """Save with history but without validation or derived state (the caller has derived it)."""
    _attribute(instance, user=user, reason=reason, source=source)
    instance.save()


def add_nation_figures(nations, *, user=None, reason="GDP and population (World Bank)"):
    """Give states the shipped World Bank GDP and population for every year they lack, citing the World Bank.
    Returns how many yearly figures were added."""
    from . import figures

    wanted = [n for n in nations if n.pk and n.country and n.kind == Nation.Kind.STATE]
    if not wanted:
        return 0
    have = set(NationFigures.objects.filter(nation__in=wanted).values_list("nation_id", "year"))
    added = [NationFigures(nation=nation, year=year, gdp_eur=gdp, population=population)
             for nation in wanted for year, gdp, population in figures.in_euros(nation.country.code)
             if (nation.pk, year) not in have]
    if not added:
        return 0
    source = Source.objects.filter(url=figures.SOURCE["url"]).first()
    with transaction.atomic():
        if source is None:
            source = save_record(Source(**figures.SOURCE), user=user, reason=reason)
        for record in added:
            record.source = source
        _bulk_create(added, {"default_user": _user_or_none(user), "default_change_reason": reason,
                             "default_date": timezone.now(), "custom_historical_attrs": {"history_source": source}})
        note_write(selectors.public_nations().filter(pk__in=[n.pk for n in wanted]).exists())
    return len(added)


def record_revision(pledge, effective_on=None, latest_figures=None):
    """Record the pledge's figures if they differ from its latest revision. Returns the new revision or None.

    `latest_figures`: those of its latest revision, when known (a pledge read from the database had them)."""
    if latest_figures is None:
        latest = pledge.revisions.order_by("-id").first()
        latest_figures = None if latest is None else timeline.Figures.of(latest)
    figures = timeline.Figures.of(pledge)
    if latest_figures is not None and latest_figures == figures:
        return None
    when = None if latest_figures is None else (effective_on or timezone.localdate())
    return PledgeRevision.objects.create(pledge=pledge, effective_on=when, recorded_at=timezone.now(),
                                         **vars(figures))


def _chunks(items, size=CHUNK):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def rebuild_periods(pledge_ids, announced_on=None):
    """Derive the periods of these pledges from their events and revisions and store them, replacing the old.

    `announced_on`: {pledge id: its announcement date}, when the caller has them. Returns {pledge id: today's
    Stage}."""
    current = {}
    for chunk in _chunks(pledge_ids):
        announced = {pk: announced_on[pk] for pk in chunk} if announced_on else dict(
            Pledge.objects.filter(pk__in=chunk).values_list("id", "announced_on"))
        events, revisions = defaultdict(list), defaultdict(list)
        for row in StatusEvent.objects.filter(pledge_id__in=chunk).order_by().values(
                "pledge_id", "id", "status", "occurred_on", "delivered_quantity", "delivered_eur"):
            events[row["pledge_id"]].append(SimpleNamespace(pk=row.pop("id"), **row))
        for row in PledgeRevision.objects.filter(pledge_id__in=chunk).order_by("id").values(
                "pledge_id", "effective_on", *timeline.FIGURE_NAMES):
            revisions[row["pledge_id"]].append(SimpleNamespace(**row))
        rows = []
        for pledge_id, day in announced.items():
            found = timeline.periods(day, events[pledge_id], revisions[pledge_id])
            current[pledge_id] = found[-1].stage
            rows += [period_row(pledge_id, period) for period in found]
        PledgePeriod.objects.filter(pledge_id__in=chunk).delete()
        PledgePeriod.objects.bulk_create(rows, batch_size=BATCH)
    return current


def period_row(pledge_id, period):
    figures, stage = period.figures, period.stage
    return PledgePeriod(
        pledge_id=pledge_id, valid_from=period.valid_from, valid_to=period.valid_to, status=stage.status,
        delivered_eur=stage.delivered_eur, delivered_quantity=stage.delivered_quantity,
        is_conditional=figures.is_conditional, eur_value=figures.eur_value,
        source_eur_value=figures.source_eur_value, quantity=figures.quantity, unit=figures.unit,
        quantity_undisclosed=figures.quantity_undisclosed)


def set_related(instance, field_name, values, *, user, reason="", source=None):
    """Replace a many-to-many field (a pledge's objectives or sources); history records the new set."""
    _attribute(instance, user=user, reason=reason, source=source)
    with one_history_entry():
        if isinstance(instance, Pledge):
            _set_pledge_links(instance, field_name, values)
            return
        getattr(instance, field_name).set(values)
        instance.updated_at = timezone.now()
        type(instance).objects.filter(pk=instance.pk).update(updated_at=instance.updated_at)


def _set_pledge_links(pledge, name, values):
    """A pledge's objectives or sources become `values`, in the fewest statements; the pledge's history entry
    records them (and marks the pledge changed)."""
    through = getattr(Pledge, name).through
    other = "objective_id" if name == "objectives" else "source_id"
    wanted = list(dict.fromkeys(getattr(value, "pk", value) for value in values))
    have = {getattr(link, other): link for link in through.objects.filter(pledge_id=pledge.pk).order_by("pk")}
    removed = [link.pk for other_id, link in have.items() if other_id not in wanted]
    added = [through(pledge_id=pledge.pk, **{other: other_id}) for other_id in wanted if other_id not in have]
    if not removed and not added:
        return
    if removed:
        through.objects.filter(pk__in=removed).delete()
    through.objects.bulk_create(added)
    entry = _entry.get()
    entry.include(pledge.pk, created=False)
    entry.links[pledge.pk, name] = [have[i] for i in wanted if i in have] + added
    note_write(selectors.readers_see(pledge))


def record_status_event(pledge, *, user, status, occurred_on, source, note="", delivered_quantity=None,
                        delivered_eur=None, reason=""):
    """Add a dated status step, citing its source, and bring the pledge's current state up to date."""
    event = StatusEvent(pledge=pledge, status=status, occurred_on=occurred_on, source=source, note=note,
                        delivered_quantity=delivered_quantity, delivered_eur=delivered_eur, recorded_by=user)
    with one_history_entry():
        save_record(event, user=user, reason=reason or f"Status: {event.get_status_display()}", source=source)
        refresh_state(pledge, user=user, reason=reason or f"Status: {event.get_status_display()}", source=source)
    return event


def save_status_event(event, *, user, reason="", source=None):
    """Save a new or edited status event and refresh its pledge's current state."""
    if event.recorded_by_id is None:
        event.recorded_by = _user_or_none(user)
    with one_history_entry():
        save_record(event, user=user, reason=reason, source=source or event.source)
        refresh_state(event.pledge, user=user, reason=reason or f"Status: {event.get_status_display()}",
                      source=source or event.source)
    return event


def delete_status_event(event, *, user, reason=""):
    pledge = event.pledge
    _attribute(event, user=user, reason=reason or "Status event removed", source=None)
    with one_history_entry():
        event.delete()
        refresh_state(pledge, user=user, reason=reason or "Status event removed", source=None)


def refresh_state(pledge, *, user, reason="", source=None):
    """Rebuild the pledge's periods from its events; save its current status and deliveries if they changed."""
    stage = rebuild_periods([pledge.pk])[pledge.pk]
    current = (pledge.status, pledge.delivered_quantity, pledge.delivered_eur)
    if current == (stage.status, stage.delivered_quantity, stage.delivered_eur):
        return pledge  # its timeline changed all the same: the history entry of this save touches it
    pledge.status, pledge.delivered_quantity, pledge.delivered_eur = (
        stage.status, stage.delivered_quantity, stage.delivered_eur)
    _save_attributed(pledge, user=user, reason=reason, source=source)
    return pledge


def keep_upload(data):
    """Keep an uploaded file until its import is confirmed (a day at most), where every app server sees it.
    Returns its SHA-256, which names it."""
    digest = hashlib.sha256(data).hexdigest()
    with transaction.atomic():
        ImportUpload.objects.filter(uploaded_at__lt=timezone.now() - ImportUpload.KEPT).delete()
        ImportUpload.objects.update_or_create(digest=digest, defaults={"data": data, "uploaded_at": timezone.now()})
    return digest


def can_publish(user):
    return user is not None and user.is_active and user.has_perm(PUBLISH_PERMISSION)


def publish_pledge(pledge, *, user, reason="", operator=False):
    """Make a pledge visible to readers. Only reviewers may, and only for a pledge that cites a source.

    `operator=True` is for commands run on the server by whoever operates it (the demo loader).
    """
    if not operator and not can_publish(user):
        raise PermissionDenied("Only reviewers may publish pledges.")
    if not pledge.sources.exists():
        raise ValidationError(
            {"sources": "A pledge must cite at least one source before it can be published."}, code="no_source"
        )
    if pledge.is_published:
        return pledge
    pledge.publication = Pledge.Publication.PUBLISHED
    pledge.published_at = timezone.now()
    pledge.published_by = _user_or_none(user)
    return save_record(pledge, user=user, reason=reason or "Published")


def unpublish_pledge(pledge, *, user, reason=""):
    """Take a pledge back to draft: readers no longer see it anywhere."""
    if not can_publish(user):
        raise PermissionDenied("Only reviewers may unpublish pledges.")
    if not pledge.is_published:
        return pledge
    pledge.publication = Pledge.Publication.DRAFT
    pledge.published_at = None
    pledge.published_by = None
    return save_record(pledge, user=user, reason=reason or "Unpublished")


# Many pledges at once


@dataclass
class PledgeChange:
    """What one save does to one pledge, in the bulk path.

    `pledge` is a new instance, or an existing one with its new values set. `objectives`, `sources` and `items`
    are the complete new sets (None: leave as they are); items that exist keep their pk. `new_events` are status
    events to add, `changed_events` existing ones with new figures; an event may carry `item_units`, a list of
    (item, units, undisclosed) it reports delivered, replacing what it reported before. Figures that change take
    effect on `effective_on` (default today). With `delivery_beyond_pledge_is_a_note`, a delivery above what was
    pledged is kept and reported in `notes` (a third party's release), instead of being an error.
    """

    pledge: Pledge
    objectives: list | None = None
    sources: list | None = None
    items: list | None = None
    new_events: list = field(default_factory=list)
    changed_events: list = field(default_factory=list)
    effective_on: datetime.date | None = None
    delivery_beyond_pledge_is_a_note: bool = False
    errors: dict = field(default_factory=dict)  # {"pledge": {field: [...]}, "events": [(event, {...})], "items": ...}
    notes: list = field(default_factory=list)

    @property
    def is_new(self):
        return self.pledge.pk is None


# Foreign keys are resolved in bulk by whoever builds the changes; model validation would query each one.
PLEDGE_UNCHECKED = ["coalition", "nation", "published_by", "objectives", "sources"]
EVENT_UNCHECKED = ["pledge", "source", "recorded_by"]


def _clean(instance, exclude):
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        return exc.message_dict
    return {}


def existing_events(pledge_ids):
    """{pledge id: [StatusEvent]} for these pledges, read in bulk."""
    found = defaultdict(list)
    for chunk in _chunks(pledge_ids):
        for event in StatusEvent.objects.filter(pledge_id__in=chunk).order_by():
            found[event.pledge_id].append(event)
    return found


def check_pledge_changes(changes, events=None):
    """Validate each change with the models' own rules (field checks and clean()), on the pledge as it will be.

    Sets each pledge's status and deliveries from its events, old and new, and fills each change's `errors`
    (and `notes`). `events` ({pledge id: [StatusEvent]}) may be passed when the caller has read them already.
    Returns True if every change is valid."""
    if events is None:
        events = existing_events([c.pledge.pk for c in changes if not c.is_new])
    valid = True
    for change in changes:
        pledge = change.pledge
        pledge.delivery_beyond_pledge_is_a_note = change.delivery_beyond_pledge_is_a_note
        replaced = {e.pk: e for e in change.changed_events}
        known = [replaced.get(e.pk, e) for e in events.get(pledge.pk, [])] if not change.is_new else []
        pledge._earliest_event_on = min((e.occurred_on for e in known), default=None)
        stage = timeline.stage_on([*known, *change.new_events])
        pledge.status, pledge.delivered_quantity, pledge.delivered_eur = (
            stage.status, stage.delivered_quantity, stage.delivered_eur)
        errors = {}
        if found := _clean(pledge, PLEDGE_UNCHECKED):
            errors["pledge"] = found
        for kind, records, exclude in (("events", [*change.new_events, *change.changed_events], EVENT_UNCHECKED),
                                       ("items", change.items or [], ["pledge"])):
            for record in records:
                if kind == "events":
                    record.pledge = pledge
                if found := _clean(record, exclude):
                    errors.setdefault(kind, []).append((record, found))
        if change.delivery_beyond_pledge_is_a_note and not errors:
            from .models import delivery_beyond_pledge

            change.notes += list(delivery_beyond_pledge(pledge, pledge.delivered_quantity,
                                                        pledge.delivered_eur).values())
        change.errors = errors
        valid = valid and not errors
    return valid


def write_pledge_changes(changes, *, user, reason, source=None, created=()):
    """Write checked changes (check_pledge_changes) in one transaction, with one history entry per record.

    `created` is a list of unsaved records the changes refer to (coalitions, nations, sources, objectives), in
    an order where each comes after what it refers to. Everything is attributed to `user`, `reason` and the
    cited `source`; the data version is bumped once. Returns the changes, their pledges saved."""
    if any(change.errors for change in changes):
        raise ValidationError("Refusing to write changes that did not pass check_pledge_changes.")
    now = timezone.now()
    history = {"default_user": _user_or_none(user), "default_change_reason": (reason or "")[:100] or None,
               "default_date": now}
    with transaction.atomic(), one_data_version_bump():
        if source is not None and source.pk is None:
            _bulk_create([source], {**history, "custom_historical_attrs": {"history_source": None}})
        history["custom_historical_attrs"] = {"history_source": source}
        by_model = defaultdict(list)
        for record in created:
            by_model[type(record)].append(record)
        for records in by_model.values():
            _bulk_create(records, history)
        _Writer(changes, history, now).write()
        note_write(any(selectors.readers_see(change.pledge) for change in changes))
        add_nation_figures({c.pledge.nation_id: c.pledge.nation for c in changes}.values(), user=user)
    return changes


def _bulk_create(records, history, fields_changed=None):
    """Create (or, with `fields_changed`, update) records and one history row each; returns the history rows."""
    if not records:
        return []
    model = type(records[0])
    if fields_changed is None:
        model.objects.bulk_create(records, batch_size=BATCH)
    else:
        model.objects.bulk_update(records, fields_changed, batch_size=BATCH)
    return model.history.bulk_history_create(records, batch_size=BATCH, update=fields_changed is not None,
                                              **history)


PLEDGE_UPDATED = [f.name for f in Pledge._meta.concrete_fields if not f.primary_key and f.name != "created_at"]
EVENT_UPDATED = ["status", "occurred_on", "source", "note", "delivered_quantity", "delivered_eur", "updated_at"]
ITEM_UPDATED = ["position", "name", "item_type", "sub_type", "quantity", "quantity_undisclosed", "unit_price",
                "unit_price_currency"]


class _Writer:
    """The bulk statements of write_pledge_changes, table by table."""

    def __init__(self, changes, history, now):
        self.changes, self.history, self.now = changes, history, now
        self.changed_ids = [c.pledge.pk for c in changes if not c.is_new]

    def write(self):
        before = self._figures_before()
        new = [c for c in self.changes if c.is_new]
        changed = [c for c in self.changes if not c.is_new]
        for change in self.changes:
            change.pledge.updated_at = self.now
        history_rows = {}
        for group, updated in ((new, None), (changed, PLEDGE_UPDATED)):
            saved = _bulk_create([c.pledge for c in group], self.history, updated)
            history_rows.update({c.pledge.pk: row for c, row in zip(group, saved, strict=True)})
        for name in ("objectives", "sources"):
            self._links(name, history_rows)
        self._items()
        self._events()
        self._revisions(before)
        rebuild_periods([c.pledge.pk for c in self.changes])

    def _figures_before(self):
        latest = {}
        for chunk in _chunks(self.changed_ids):
            for revision in PledgeRevision.objects.filter(pledge_id__in=chunk).order_by("id"):
                latest[revision.pledge_id] = timeline.Figures.of(revision)
        return latest

    def _links(self, name, history_rows):
        """Replace the links that changed, and snapshot each pledge's links as they now are in its history row
        (as simple_history does for a single save)."""
        through = getattr(Pledge, name).through
        other = "objective_id" if name == "objectives" else "source_id"
        current = defaultdict(dict)
        for chunk in _chunks(self.changed_ids):
            for link in through.objects.filter(pledge_id__in=chunk):
                current[link.pledge_id][getattr(link, other)] = link
        added, removed, final = [], [], {}
        for change in self.changes:
            pk, have = change.pledge.pk, current.get(change.pledge.pk, {})
            wanted = getattr(change, name)
            if wanted is None:
                final[pk] = list(have.values())
                continue
            wanted_ids = list(dict.fromkeys(record.pk for record in wanted))
            removed += [link.pk for other_id, link in have.items() if other_id not in wanted_ids]
            new_links = [through(pledge_id=pk, **{other: other_id}) for other_id in wanted_ids if other_id not in have]
            added += new_links
            final[pk] = [have[i] for i in wanted_ids if i in have] + new_links
        for chunk in _chunks(removed):
            through.objects.filter(pk__in=chunk).delete()
        through.objects.bulk_create(added, batch_size=BATCH)
        _snapshot_links(name, history_rows, final)

    def _items(self):
        changes = [c for c in self.changes if c.items is not None]
        if not changes:
            return
        current = defaultdict(dict)
        for chunk in _chunks([c.pledge.pk for c in changes if not c.is_new]):
            for item in PledgeItem.objects.filter(pledge_id__in=chunk):
                current[item.pledge_id][item.pk] = item
        created, updated, removed = [], [], []
        for change in changes:
            have = current.get(change.pledge.pk, {})
            kept = set()
            for position, item in enumerate(change.items):
                item.pledge, item.position = change.pledge, position
                if item.pk is None:
                    created.append(item)
                    continue
                kept.add(item.pk)
                old = have.get(item.pk)
                if old is None or any(getattr(old, n) != getattr(item, n) for n in ITEM_UPDATED):
                    updated.append(item)
            removed += [pk for pk in have if pk not in kept]
        for chunk in _chunks(removed):
            for item in PledgeItem.objects.filter(pk__in=chunk):
                _attribute(item, user=self.history["default_user"], reason=self.history["default_change_reason"],
                           source=self.history["custom_historical_attrs"]["history_source"])
                item.delete()
        _bulk_create(created, self.history)
        _bulk_create(updated, self.history, ITEM_UPDATED)

    def _events(self):
        new, changed = [], []
        for change in self.changes:
            for event in change.new_events:
                event.pledge = change.pledge
                new.append(event)
            for event in change.changed_events:
                event.updated_at = self.now
                changed.append(event)
        _bulk_create(new, self.history)
        _bulk_create(changed, self.history, EVENT_UPDATED)
        reporting = [e for e in [*new, *changed] if getattr(e, "item_units", None) is not None]
        for chunk in _chunks([e.pk for e in changed if getattr(e, "item_units", None) is not None]):
            ItemDelivery.objects.filter(event_id__in=chunk).delete()
        _bulk_create([ItemDelivery(event=event, item=item, quantity=units, quantity_undisclosed=undisclosed)
                      for event in reporting for item, units, undisclosed in event.item_units], self.history)

    def _revisions(self, before):
        """A new pledge's figures count from its start; a changed pledge's changed figures from their date."""
        revisions = []
        for change in self.changes:
            figures = timeline.Figures.of(change.pledge)
            if change.pledge.pk in before and before[change.pledge.pk] == figures:
                continue
            effective = None if change.pledge.pk not in before else (change.effective_on or timezone.localdate())
            revisions.append(PledgeRevision(pledge=change.pledge, effective_on=effective, recorded_at=self.now,
                                            **vars(figures)))
        PledgeRevision.objects.bulk_create(revisions, batch_size=BATCH)


def earliest_events(pledge_ids):
    """{pledge id: date of its first status event}, in bulk."""
    found = {}
    for chunk in _chunks(pledge_ids):
        found.update(StatusEvent.objects.filter(pledge_id__in=chunk).values("pledge_id").annotate(
            first=Min("occurred_on")).values_list("pledge_id", "first"))
    return found


# Releases


RELEASED_FIELDS = ["coalition_id", "nation_id", *ReleasedPledge.COMPARED, "is_example"]


def cut_release(*, user, title, notes="", operator=False):
    """Freeze what readers see now as the next numbered release: every published pledge's figures, each summary
    document of the whole tracker and of each coalition, nation and objective (both valuations), and the
    published dataset as CSV and XLSX. Only reviewers may (`operator=True`: whoever runs the server's command).

    The data is read in one snapshot (REPEATABLE READ on PostgreSQL; SQLite's transaction is one already), so the
    figures, documents and files agree with each other even while editors write. Two reviewers cutting at once
    race for the same number: the database's unique number refuses the second, which cuts again from a fresh
    snapshot (as it does when the database cannot keep its snapshot serializable)."""
    if not operator and not can_publish(user):
        raise PermissionDenied("Only reviewers may cut a release.")
    for attempt in range(CUT_ATTEMPTS):
        try:
            release = _cut_release(user, title, notes)
            break
        except (IntegrityError, OperationalError):
            if attempt == CUT_ATTEMPTS - 1:
                raise
    # After the cut's own transaction: bumping the version inside it would conflict with every editor's write
    # since its snapshot. Today's figures now extend this release.
    note_write(public=True)
    return release


CUT_ATTEMPTS = 3


def _cut_release(user, title, notes):
    release = Release(title=(title or "").strip(), notes=(notes or "").strip(), cut_by=_user_or_none(user))
    snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if snapshot:  # only a transaction's first statement may set it (inside a caller's, the caller's level holds)
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        release.number = (Release.objects.aggregate(n=Max("number"))["n"] or 0) + 1
        release.cut_at = timezone.now()
        published = selectors.published_pledges()
        release.full_clean(exclude=["number", "dataset_csv", "dataset_xlsx"])
        release.pledges = published.count()
        release.includes_example = published.filter(is_example=True).exists()
        release.dataset_csv = template.export_file(published, "csv")
        release.dataset_xlsx = template.export_file(published, "xlsx")
        _attribute(release, user=user, reason=f"Release {release.number} cut", source=None)
        release.save()
        rows = published.values("id", *RELEASED_FIELDS).order_by("id").iterator(chunk_size=BATCH)
        while chunk := list(itertools.islice(rows, BATCH)):
            ReleasedPledge.objects.bulk_create([ReleasedPledge(release=release, pledge_id=row.pop("id"), **row)
                                                for row in chunk])
        dataset = reverse("site:release-dataset", args=[release.number, "csv"])
        documents = []
        for query in selectors.release_scopes():
            selection = filters.select(query, published)
            for grouping in summaries.GROUPINGS:
                document = summaries.build_summary(selection, grouping, lambda _query: dataset)
                documents.append(ReleaseDocument(release=release, query=summaries.query_key(selection.query),
                                                 grouping=grouping, document=summaries.frozen(document)))
        ReleaseDocument.objects.bulk_create(documents, batch_size=BATCH)
    return release
