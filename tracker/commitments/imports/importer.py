"""Import pledges from a file: check every row, then write all of them in one transaction, or none.

Checking resolves nations, coalitions, objectives, sources and existing pledges in bulk (a fixed number
of queries per few thousand rows, never one per row) and validates each row with the models' own rules,
run on plain values (see Draft). Writing puts plain rows into the tables (see writer), with a history
entry for every record created or changed, attributed to the importing user and citing the imported
file as its source. A row identical to its pledge is left untouched, so importing the same file twice
changes nothing the second time.
"""
import gc
import hashlib
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import urlsplit

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.utils import timezone

from .. import selectors, services
from ..models import Coalition, Objective, Pledge, Source, SourceKind, StatusEvent, event_errors
from . import files, kiel, template, writer
from .nations import NationIndex
from .rows import unique_slug

FORMATS = {"template": template, "kiel": kiel}
BATCH = 2000
COMPARED = [*template.PLEDGE_FIELDS, "eur_value", "eur_rate", "eur_rate_date", "status", "delivered_quantity",
            "delivered_eur", "publication"]
PLEDGE_COLUMNS = writer.columns(Pledge)
DEFAULTS = {f.attname: f.get_default() for f in Pledge._meta.concrete_fields}
# Fields a new pledge must have that a file might leave out (kind, description).
REQUIRED = [f.name for f in Pledge._meta.concrete_fields
            if f.editable and not f.blank and not f.is_relation and not f.has_default() and not f.primary_key]
# Where a model field's error is reported, per format: the column the editor filled in.
COLUMNS = {
    "template": {"key": "external_id", "eur_value": "amount", "eur_rate": "currency",
                 "occurred_on": "status_on", "source": "status_source"},
    "kiel": {"key": "ID", "nation": "Countries", "coalition": "coalition", "kind": "Type of Aid General",
             "description": "Explanation", "amount": "Total", "currency": "Original Currency",
             "eur_value": "Total", "source_eur_value": "Converted Value in EUR",
             "announced_on": "Announcement Date", "earmarked_from": "Earmarked year",
             "earmarked_to": "Earmarked year", "quantity": "No. of Units", "unit": "Items",
             "sources": "Source of Aid 1", "status_source": "Source of Aid 1", "occurred_on": "Announcement Date"},
}


class Draft(SimpleNamespace):
    """A pledge (or status event) as plain attributes, checked with the model's own rules.

    Pledge.clean reads only attributes and calls earliest_event_on() and revalue(), so it runs unchanged on
    a Draft. Building a model instance per row, and Model.clean_fields, cost more than the rest of an
    import together; FieldRules does what clean_fields does, once per distinct value.
    """

    clean = Pledge.clean
    revalue = Pledge.revalue

    def earliest_event_on(self):
        return self._earliest_event_on

    @property
    def is_published(self):
        return self.publication == Pledge.Publication.PUBLISHED


class FieldRules:
    """Model.clean_fields for the fields a file sets: blank, choices and validators, by the model's own
    field definitions, each distinct (field, value) checked once (a large file repeats most values)."""

    def __init__(self, model):
        self.fields = {f.name: f for f in model._meta.concrete_fields if not f.is_relation}
        self.verdicts = {}

    def errors(self, draft, names):
        found = {}
        for name in names:
            value = getattr(draft, name)
            # Decimal("1") == Decimal("1.000"), but only one of them fits two decimal places.
            key = (name, str(value)) if isinstance(value, Decimal) else (name, value)
            try:
                verdict = self.verdicts[key]
            except KeyError:
                verdict = self.verdicts[key] = self._check(self.fields[name], value)
            except TypeError:  # an unhashable value: check it without remembering
                verdict = self._check(self.fields[name], value)
            if verdict:
                found[name] = verdict
        return found

    @staticmethod
    def _check(field_, value):
        try:
            field_.clean(value, None)
        except ValidationError as exc:
            return exc.messages
        return None


EVENT_FIELDS = ["status", "occurred_on", "note", "delivered_quantity", "delivered_eur"]


@dataclass
class Outcome:
    line: int
    key: str
    action: str  # "new", "changed", "unchanged" or "error"
    nation: str = ""
    description: str = ""
    pledge_id: int | None = None
    changes: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    notes: list = field(default_factory=list)


@dataclass
class Report:
    filename: str
    dataset: str
    outcomes: list = field(default_factory=list)
    created: Counter = field(default_factory=Counter)  # new coalitions, nations, objectives, sources
    file_errors: list = field(default_factory=list)
    applied: bool = False

    @property
    def errors(self):
        """Every problem as (line, column, message), in file order."""
        found = [(None, "file", message) for message in self.file_errors]
        found += sorted((e for o in self.outcomes for e in o.errors), key=lambda e: (e[0] or 0, e[1]))
        return found

    @property
    def counts(self):
        return Counter(outcome.action for outcome in self.outcomes)

    @property
    def ok(self):
        return not self.errors

    def summary(self):
        counts = self.counts
        text = ", ".join(f"{counts[a]} {a}" for a in ("new", "changed", "unchanged", "error") if counts[a])
        extra = ", ".join(f"{n} new {label}" for label, n in sorted(self.created.items()) if n)
        return (text or "no rows") + (f" ({extra})" if extra else "")


class Progress:
    """What a caller may pass to follow a long import; the command passes tqdm bars."""

    def start(self, label, total):
        return self

    def update(self, n=1):
        pass

    def close(self):
        pass


def import_file(data, filename, *, fmt="template", user, coalition=None, publish=False, dry_run=False,
                progress=None):
    """Check (and unless `dry_run` or any row is bad, write) the pledges in a CSV or XLSX file."""
    if fmt not in FORMATS:
        raise ValueError(f"Unknown format {fmt!r}")
    if publish and not services.can_publish(user):
        raise PermissionDenied("Only reviewers may publish on import.")
    report = Report(filename=filename, dataset=fmt)
    with _cycle_collector_paused():
        try:
            rows = FORMATS[fmt].read(data, filename)
        except files.FileError as exc:
            report.file_errors.append(str(exc))
            return report
        run = Import(rows, report, user=user, fmt=fmt, coalition=coalition, publish=publish,
                     digest=hashlib.sha256(data).hexdigest(), progress=progress or Progress())
        run.check()
        if report.ok and not dry_run:
            run.write()
    return report


@contextmanager
def _cycle_collector_paused():
    """Pause Python's cyclic garbage collector for the length of an import.

    An import keeps a few objects per cell alive until it ends, and each full collection walks all of them
    again: at 100,000 rows that was a quarter of the import's time. Nothing is lost by waiting: an import
    makes almost no reference cycles, and reference counting frees everything else as usual. The collector
    is switched back on only by the call that switched it off (imports may overlap on a threaded server).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _chunks(items, size=BATCH):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Import:
    def __init__(self, rows, report, *, user, fmt, coalition, publish, digest, progress):
        self.rows, self.report, self.user, self.fmt = rows, report, user, fmt
        self.columns = COLUMNS[fmt]
        self.default_coalition = coalition
        self.publish, self.digest, self.progress = publish, digest, progress
        self.plans = []  # (outcome, pledge draft, objectives, sources, event draft) for new and changed rows
        self.new_records = defaultdict(list)
        self.pledge_rules, self.event_rules = FieldRules(Pledge), FieldRules(StatusEvent)

    def column(self, name):
        return self.columns.get(name, name)

    # Checking

    def check(self):
        self._check_keys()
        self._resolve_coalitions()
        self._resolve_nations()
        self._resolve_sources()
        self._resolve_objectives()
        self._load_pledges()
        bar = self.progress.start("checking rows", len(self.rows))
        for row in self.rows:
            outcome = self._check_row(row)
            self.report.outcomes.append(outcome)
            bar.update()
        bar.close()
        self.report.created.update({
            label: len(records) for label, records in self.new_records.items()})

    def _check_keys(self):
        first = {}
        for row in self.rows:
            if not row.key and not row.errors:
                row.error(self.column("key"), "is required: it lets a later import update this pledge "
                                              "instead of adding it again")
            elif row.key in first:
                row.error(self.column("key"), f"“{row.key}” is also on line {first[row.key]}")
            elif row.key:
                first[row.key] = row.line

    def _resolve_coalitions(self):
        index = {}
        for coalition in Coalition.objects.all():
            index[coalition.name.casefold()] = index[coalition.slug.casefold()] = coalition
        default = self.default_coalition or selectors.default_coalition()
        slugs = {c.slug for c in index.values()}
        self.coalition_of = {}
        for row in self.rows:
            name = " ".join(row.coalition.split())
            if not name:
                if default is None:
                    row.error("coalition", "is empty and the tracker has no coalition yet: name one")
                self.coalition_of[id(row)] = default
                continue
            coalition = index.get(name.casefold())
            if coalition is None:
                slug = unique_slug(name, slugs)
                coalition = index[name.casefold()] = Coalition(name=name, slug=slug)
                self.new_records["coalitions"].append(coalition)
            self.coalition_of[id(row)] = coalition

    def _resolve_nations(self):
        nations = NationIndex()
        self.nation_of = {}
        for row in self.rows:
            if not row.nation and not row.nation_code:
                continue
            try:
                self.nation_of[id(row)] = nations.resolve(row.nation, row.nation_code)
            except LookupError as exc:
                row.error(self.column("nation_code" if row.nation_code else "nation"), str(exc))
        self.new_records["nations"] = list(nations.new.values())

    def _resolve_sources(self):
        refs = [ref for row in self.rows for ref in (row.sources or [])]
        refs += [row.status.source for row in self.rows if row.status]
        urls = {ref.url for ref in refs if ref.url}
        titles = {ref.title for ref in refs if not ref.url}
        found = {}
        for chunk in _chunks(urls, 500):
            found.update({("url", s.url): s for s in Source.objects.filter(url__in=chunk)})
        for chunk in _chunks(titles, 500):
            for source in Source.objects.filter(title__in=chunk).order_by("-id"):
                found[("title", source.title.casefold())] = source
        validate = URLValidator()
        self.source_errors = {}
        for ref in refs:
            if ref.key in found or ref.key in self.source_errors:
                continue
            if not ref.url:
                if len(ref.title) > 500:
                    self.source_errors[ref.key] = f"“{ref.title[:40]}…” is longer than 500 characters"
                    continue
                source = Source(title=ref.title, publisher="Not recorded (named in an import)")
                found[ref.key] = source
                self.new_records["sources"].append(source)
                continue
            try:
                validate(ref.url)
            except ValidationError:
                self.source_errors[ref.key] = f"“{ref.url}” is not a valid URL"
                continue
            host = (urlsplit(ref.url).hostname or "").removeprefix("www.")
            source = Source(url=ref.url, title=(ref.title or ref.url)[:500], publisher=(ref.publisher or host)[:200],
                            kind=ref.kind, is_official=ref.is_official)
            found[ref.key] = source
            self.new_records["sources"].append(source)
        self.sources = found

    def _resolve_objectives(self):
        coalitions = {c.pk for c in self.coalition_of.values() if c is not None and c.pk}
        index = {}
        slugs = defaultdict(set)
        for objective in Objective.objects.filter(coalition__in=coalitions):
            index[(objective.coalition_id, objective.slug.casefold())] = objective
            index[(objective.coalition_id, objective.title.casefold())] = objective
            slugs[objective.coalition_id].add(objective.slug)
        self.objectives = {}
        for row in self.rows:
            coalition = self.coalition_of.get(id(row))
            if not row.objectives or coalition is None:
                continue
            owner = coalition.pk or id(coalition)
            for name in row.objectives:
                key = (owner, name.casefold())
                if key not in index:
                    if len(name) > 300:
                        row.error("objectives", f"“{name[:40]}…” is longer than 300 characters")
                        continue
                    objective = Objective(coalition=coalition, title=name, slug=unique_slug(name, slugs[owner]))
                    index[key] = objective
                    self.new_records["objectives"].append(objective)
                self.objectives[(id(row), name)] = index[key]

    def _load_pledges(self):
        keys = [row.key for row in self.rows if row.key]
        self.existing = {}
        for chunk in _chunks(keys):
            self.existing.update({p["external_id"]: p for p in Pledge.objects.filter(
                external_id__in=chunk).order_by().values(*PLEDGE_COLUMNS)})
        by_pk = {int(key.split(":", 1)[1]): key for key in keys
                 if key not in self.existing and key.startswith("tracker:") and key[8:].isdigit()}
        for chunk in _chunks(by_pk):
            for pledge in Pledge.objects.filter(pk__in=chunk, external_id=None).order_by().values(*PLEDGE_COLUMNS):
                self.existing[by_pk[pledge["id"]]] = pledge
        ids = [p["id"] for p in self.existing.values()]
        self.links = {"objectives": defaultdict(dict), "sources": defaultdict(dict)}
        self.events = defaultdict(list)
        for chunk in _chunks(ids):
            for name, other in (("objectives", "objective_id"), ("sources", "source_id")):
                through = getattr(Pledge, name).through
                for link_id, pledge_id, other_id in through.objects.filter(pledge_id__in=chunk).values_list(
                        "id", "pledge_id", other):
                    self.links[name][pledge_id][other_id] = link_id
            # In no particular order: the default one joins each event's pledge, only to sort.
            for event in StatusEvent.objects.filter(pledge_id__in=chunk).order_by():
                self.events[event.pledge_id].append(event)

    def _check_row(self, row):
        before = self.existing.get(row.key)
        outcome = Outcome(line=row.line, key=row.key, action="error", nation=row.nation,
                          description=(row.fields.get("description") or "")[:120],
                          pledge_id=before["id"] if before else None, notes=list(row.notes))
        if before is not None:
            pledge = Draft(**before, pk=before["id"])
            events = self.events.get(pledge.pk, [])
            pledge._earliest_event_on = min((e.occurred_on for e in events), default=None)
            checked = list(row.fields)
        else:
            pledge = Draft(**{**DEFAULTS, "external_id": row.key or None}, pk=None, _earliest_event_on=None)
            events = []
            checked = list(dict.fromkeys([*row.fields, *REQUIRED]))
        pledge.coalition = self.coalition_of.get(id(row))
        pledge.nation = self.nation_of.get(id(row))
        if pledge.nation is None and before is None and not any(
                column in (self.column("nation"), self.column("nation_code")) for _, column, _ in row.errors):
            row.error(self.column("nation"), "is required")
        for name, value in row.fields.items():
            setattr(pledge, name, value)
        self._validate(row, lambda: self.pledge_rules.errors(pledge, checked), pledge.clean)

        objectives = self._related(row, before, "objectives", self._row_objectives(row))
        sources = self._related(row, before, "sources", self._row_sources(row))
        event = self._event(row, pledge, events)
        if self.publish and not pledge.is_published:
            if not sources:
                row.error(self.column("sources"), "a pledge must cite a source to be published")
            pledge.publication = Pledge.Publication.PUBLISHED
            pledge.published_at = timezone.now()
            pledge.published_by_id = self.user.pk
        outcome.errors = row.errors
        if row.errors:
            return outcome
        if before is None:
            outcome.action = "new"
        else:
            changes = [name for name in ("coalition", "nation")
                       if getattr(pledge, name) is not None and getattr(pledge, name).pk != before[f"{name}_id"]]
            changes += [name for name in COMPARED if getattr(pledge, name) != before[name]]
            changes += [name for name, new in (("objectives", objectives), ("sources", sources))
                        if set(map(id, new)) != set(map(id, self._current(before, name)))
                        or any(o.pk is None for o in new)]
            if event is not None:
                changes.append("status event")
            if not changes:
                outcome.action = "unchanged"
                return outcome
            outcome.action, outcome.changes = "changed", changes
        self.plans.append((outcome, pledge, objectives, sources, event))
        return outcome

    def _validate(self, row, field_errors, clean, columns=None):
        """Report field errors, then (only if there are none, as Model.full_clean does) cross-field ones."""
        errors = field_errors()
        if not errors:
            try:
                clean()
            except ValidationError as exc:
                errors = exc.message_dict
        if not errors:
            return
        already = {column for _, column, _ in row.errors}  # a bad cell explains its own follow-on errors
        for name, messages in errors.items():
            column = (columns or {}).get(name) or self.column(name)
            if column in already:
                continue
            for message in dict.fromkeys(messages):
                row.error(column, message)

    def _row_objectives(self, row):
        if row.objectives is None:
            return None
        return list({id(o): o for o in (self.objectives.get((id(row), n)) for n in row.objectives) if o}.values())

    def _row_sources(self, row):
        if row.sources is None:
            return None
        chosen = {}
        for ref in row.sources:
            if ref.key in self.source_errors:
                row.error(self.column("sources"), self.source_errors[ref.key])
            elif ref.key in self.sources:
                chosen[id(self.sources[ref.key])] = self.sources[ref.key]
        return list(chosen.values())

    def _current(self, pledge, name):
        if pledge is None:
            return []
        model = Objective if name == "objectives" else Source
        ids = self.links[name].get(pledge["id"], {})
        if not hasattr(self, "_cache"):
            self._make_cache()
        cache = self._cache[name]
        missing = [i for i in ids if i not in cache]
        if missing:
            cache.update(model.objects.in_bulk(missing))
        return [cache[i] for i in ids]

    def _make_cache(self):
        self._cache = {"objectives": {}, "sources": {}}
        for objective in self.objectives.values():
            if objective.pk:
                self._cache["objectives"][objective.pk] = objective
        for source in self.sources.values():
            if source.pk:
                self._cache["sources"][source.pk] = source

    def _related(self, row, before, name, wanted):
        """The records a pledge should link to: the file's set, or for a dataset import (Kiel) the file's
        added to what editors linked, since a dataset never removes an editor's work."""
        current = self._current(before, name)
        if wanted is None:
            return current
        if self.fmt == "kiel":
            merged = {id(o): o for o in current}
            merged.update({id(o): o for o in wanted})
            return list(merged.values())
        return wanted

    def _event(self, row, pledge, events):
        step = row.status
        if step is None:
            return None
        source = None
        if step.source.key in self.source_errors:
            row.error(self.column("status_source"), self.source_errors[step.source.key])
        else:
            source = self.sources.get(step.source.key)
        if any(e.status == step.status and e.occurred_on == step.occurred_on for e in events):
            return None
        event = Draft(pk=None, status=step.status, occurred_on=step.occurred_on, note=step.note,
                      delivered_quantity=step.delivered_quantity, delivered_eur=step.delivered_eur, source=source,
                      recorded_by_id=self.user.pk if self.user.is_authenticated else None)
        columns = {"occurred_on": self.column("occurred_on"), "status": "status",
                   "delivered_quantity": "delivered_quantity", "delivered_eur": "delivered_eur"}
        self._validate(row, lambda: self.event_rules.errors(event, EVENT_FIELDS),
                       lambda: _raise(event_errors(event, pledge)), columns)
        state = selectors.pledge_state([*events, event])
        pledge.status, pledge.delivered_quantity = state.status, state.delivered_quantity
        pledge.delivered_eur = state.delivered_eur
        return event

    # Writing

    def write(self):
        if not self.plans:
            self.report.applied = True
            return
        reason = f"Imported from {self.report.filename}"[:100]
        now = timezone.now()
        with transaction.atomic(), connection.cursor() as cursor:
            # The first write of the transaction: on SQLite it takes the write lock before Writer.take_ids counts.
            services.bump_data_version()
            cited = self._file_source(reason)
            history = {"default_user": self.user if self.user.is_authenticated else None,
                       "default_change_reason": reason, "default_date": now,
                       "custom_historical_attrs": {"history_source_id": cited.pk}}
            for label, model in (("coalitions", Coalition), ("nations", None), ("sources", Source),
                                 ("objectives", Objective)):
                records = self.new_records.get(label, [])
                if records:
                    model = model or type(records[0])
                    model.objects.bulk_create(records, batch_size=BATCH)
                    model.history.bulk_history_create(records, batch_size=BATCH, **history)
            stamp = {"history_date": now, "history_change_reason": reason, "history_source_id": cited.pk,
                     "history_user_id": self.user.pk if self.user.is_authenticated else None}
            out = writer.Writer(cursor)
            bar = self.progress.start("writing pledges", len(self.plans))
            for batch in _chunks(self.plans, 20000):
                self._write_batch(out, batch, now, stamp)
                bar.update(len(batch))
            bar.close()
        self.report.applied = True

    def _write_batch(self, out, plans, now, stamp):
        """Pledges, their links and status events as plain rows, and a history row for each, which the
        database copies from the rows just written."""
        new = [plan for plan in plans if plan[0].action == "new"]
        for plan, pk in zip(new, out.take_ids(Pledge, len(new)), strict=True):
            plan[1].id = plan[1].pk = plan[0].pledge_id = pk
            plan[1].created_at = now
        pledges = {"new": writer.Table(Pledge), "changed": writer.Table(Pledge)}
        for outcome, pledge, *_ in plans:
            pledge.updated_at = now
            if pledge.coalition is not None:
                pledge.coalition_id = pledge.coalition.pk
            if pledge.nation is not None:
                pledge.nation_id = pledge.nation.pk
            pledges[outcome.action].add(vars(pledge))
        out.insert(pledges["new"])
        out.update(pledges["changed"])
        self._write_links(out, plans)
        # Each pledge's history row, and that row's snapshot of the pledge's links as they now are.
        pairs = list(zip([plan[1].pk for plan in plans], out.take_ids(Pledge.history.model, len(plans)), strict=True))
        for action, history_type in (("new", "+"), ("changed", "~")):
            out.insert_history(Pledge.history.model, Pledge, "id",
                               [pair for pair, plan in zip(pairs, plans, strict=True) if plan[0].action == action],
                               {**stamp, "history_type": history_type}, linked_by="history_id")
        for index, name in enumerate(("objectives", "sources")):
            linked = [pair for pair, plan in zip(pairs, plans, strict=True) if plan[2 + index]]
            out.insert_history(getattr(Pledge.history.model, name).model, getattr(Pledge, name).through,
                               "pledge_id", linked, {}, linked_by="history_id")
        self._write_events(out, [plan[1:] for plan in plans if plan[4] is not None], now, stamp)

    def _write_links(self, out, plans):
        """Many-to-many links of new pledges, and of changed ones where the file changed them."""
        for index, (name, other) in enumerate((("objectives", "objective_id"), ("sources", "source_id"))):
            through = getattr(Pledge, name).through
            links = writer.Table(through, numbered=False)
            out.delete_links(through, [plan[1].pk for plan in plans
                                       if plan[0].action == "changed" and name in plan[0].changes])
            for plan in plans:
                if plan[0].action == "new" or name in plan[0].changes:
                    for record in plan[2 + index]:
                        links.add({"pledge_id": plan[1].pk, other: record.pk})
            out.insert(links)

    def _write_events(self, out, plans, now, stamp):
        events = writer.Table(StatusEvent)
        ids = out.take_ids(StatusEvent, len(plans))
        for (pledge, _objectives, _sources, event), pk in zip(plans, ids, strict=True):
            events.add({"id": pk, "pledge_id": pledge.pk, "source_id": event.source.pk, "status": event.status,
                        "occurred_on": event.occurred_on, "note": event.note,
                        "delivered_quantity": event.delivered_quantity, "delivered_eur": event.delivered_eur,
                        "recorded_by_id": event.recorded_by_id, "created_at": now, "updated_at": now})
        out.insert(events)
        out.insert_history(StatusEvent.history.model, StatusEvent, "id", [(pk, None) for pk in ids],
                           {**stamp, "history_type": "+"})

    def _file_source(self, reason):
        """The imported file, cited as the source of every change it makes."""
        label = "Kiel Ukraine Support Tracker file" if self.fmt == "kiel" else "Spreadsheet import"
        title = f"{label}: {self.report.filename} (sha256 {self.digest[:12]})"[:500]
        publisher = kiel.PUBLISHER if self.fmt == "kiel" else "Imported by an editor"
        source = Source.objects.filter(title=title, publisher=publisher, url="").first()
        if source is None:
            source = Source(title=title, publisher=publisher,
                            kind=SourceKind.RESEARCH if self.fmt == "kiel" else SourceKind.OTHER,
                            published_on=timezone.localdate())
            services.save_record(source, user=self.user, reason=reason)
        return source


def _raise(errors):
    if errors:
        raise ValidationError(errors)
