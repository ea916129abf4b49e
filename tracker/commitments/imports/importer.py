"""Import pledges from a file: check every row, then write all of them in one transaction, or none.

Checking resolves nations, coalitions, objectives, sources and existing pledges in bulk (a fixed number
of queries per few thousand rows, never one per row) and validates each row with the model's own rules.
Writing uses bulk inserts and updates, with a history entry for every record created or changed,
attributed to the importing user and citing the imported file as its source. A row identical to its
pledge is left untouched, so importing the same file twice changes nothing the second time.
"""
import copy
import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from .. import selectors, services
from ..models import Coalition, Objective, Pledge, Source, SourceKind, StatusEvent
from . import files, kiel, template
from .nations import NationIndex
from .rows import unique_slug

FORMATS = {"template": template, "kiel": kiel}
BATCH = 2000
COMPARED = [*template.PLEDGE_FIELDS, "coalition_id", "nation_id", "eur_value", "eur_rate", "eur_rate_date",
            "status", "delivered_quantity", "delivered_eur", "publication"]
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
        self.plans = []  # (row, outcome, pledge, objectives, sources, event) for new and changed rows
        self.new_records = defaultdict(list)

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
            self.existing.update({p.external_id: p for p in Pledge.objects.filter(external_id__in=chunk)})
        by_pk = {int(key.split(":", 1)[1]): key for key in keys
                 if key not in self.existing and key.startswith("tracker:") and key[8:].isdigit()}
        for chunk in _chunks(by_pk):
            for pledge in Pledge.objects.filter(pk__in=chunk, external_id=None):
                self.existing[by_pk[pledge.pk]] = pledge
        ids = [p.pk for p in self.existing.values()]
        self.links = {"objectives": defaultdict(dict), "sources": defaultdict(dict)}
        self.events = defaultdict(list)
        for chunk in _chunks(ids):
            for name, other in (("objectives", "objective_id"), ("sources", "source_id")):
                through = getattr(Pledge, name).through
                for link_id, pledge_id, other_id in through.objects.filter(pledge_id__in=chunk).values_list(
                        "id", "pledge_id", other):
                    self.links[name][pledge_id][other_id] = link_id
            for event in StatusEvent.objects.filter(pledge_id__in=chunk):
                self.events[event.pledge_id].append(event)

    def _check_row(self, row):
        pledge_before = self.existing.get(row.key)
        outcome = Outcome(line=row.line, key=row.key, action="error", nation=row.nation,
                          description=(row.fields.get("description") or "")[:120],
                          pledge_id=pledge_before.pk if pledge_before else None, notes=list(row.notes))
        coalition, nation = self.coalition_of.get(id(row)), self.nation_of.get(id(row))
        if pledge_before is not None:
            pledge = copy.copy(pledge_before)
            pledge._state = copy.copy(pledge_before._state)
            events = self.events.get(pledge.pk, [])
            pledge._earliest_event_on = min((e.occurred_on for e in events), default=None)
        else:
            pledge = Pledge(external_id=row.key or None)
            events = []
        if coalition is not None:
            pledge.coalition = coalition
        if nation is not None:
            pledge.nation = nation
        for name, value in row.fields.items():
            setattr(pledge, name, value)
        self._validate(row, pledge, ["coalition", "nation", "objectives", "sources", "published_by"])

        objectives = self._related(row, pledge_before, "objectives", self._row_objectives(row))
        sources = self._related(row, pledge_before, "sources", self._row_sources(row))
        event = self._event(row, pledge, events)
        if self.publish and not pledge.is_published:
            if not sources:
                row.error(self.column("sources"), "a pledge must cite a source to be published")
            pledge.publication = Pledge.Publication.PUBLISHED
            pledge.published_at = timezone.now()
            pledge.published_by = self.user
        outcome.errors = row.errors
        if row.errors:
            return outcome
        if pledge_before is None:
            outcome.action = "new"
        else:
            changes = [name for name in COMPARED if getattr(pledge, name) != getattr(pledge_before, name)]
            changes = [c.removesuffix("_id") for c in changes]
            changes += [name for name, new in (("objectives", objectives), ("sources", sources))
                        if set(map(id, new)) != set(map(id, self._current(pledge_before, name)))
                        or any(o.pk is None for o in new)]
            if event is not None:
                changes.append("status event")
            if not changes:
                outcome.action = "unchanged"
                return outcome
            outcome.action, outcome.changes = "changed", changes
        self.plans.append((outcome, pledge, objectives, sources, event))
        return outcome

    def _validate(self, row, instance, exclude, columns=None):
        try:
            instance.clean_fields(exclude=exclude)
            instance.clean()
        except ValidationError as exc:
            already = {column for _, column, _ in row.errors}  # a bad cell explains its own follow-on errors
            for name, messages in exc.message_dict.items():
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
        ids = self.links[name].get(pledge.pk, {})
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

    def _related(self, row, pledge_before, name, wanted):
        """The records a pledge should link to: the file's set, or for a dataset import (Kiel) the file's
        added to what editors linked, since a dataset never removes an editor's work."""
        current = self._current(pledge_before, name)
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
        event = StatusEvent(status=step.status, occurred_on=step.occurred_on, note=step.note,
                            delivered_quantity=step.delivered_quantity, delivered_eur=step.delivered_eur,
                            recorded_by=self.user if self.user.is_authenticated else None)
        event.pledge = pledge
        if source is not None:
            event.source = source
        self._validate(row, event, ["pledge", "source", "recorded_by"],
                       {"occurred_on": self.column("occurred_on"), "status": "status",
                        "delivered_quantity": "delivered_quantity", "delivered_eur": "delivered_eur"})
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
        with transaction.atomic():
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
            new = [plan for plan in self.plans if plan[0].action == "new"]
            changed = [plan for plan in self.plans if plan[0].action == "changed"]
            bar = self.progress.start("writing pledges", len(self.plans))
            for batch in _chunks(new):
                pledges = [plan[1] for plan in batch]
                Pledge.objects.bulk_create(pledges)
                self._write_links(batch, history, update=False)
                bar.update(len(batch))
            for batch in _chunks(changed):
                pledges = [plan[1] for plan in batch]
                fields = sorted({f for plan in batch for f in plan[0].changes
                                 if f not in ("objectives", "sources", "status event")} | {"updated_at"})
                for pledge in pledges:
                    pledge.updated_at = now
                Pledge.objects.bulk_update(pledges, [f for f in fields if f != "publication"]
                                           + (["publication", "published_at", "published_by"]
                                              if "publication" in fields else []))
                self._write_links(batch, history, update=True)
                bar.update(len(batch))
            bar.close()
            events = [plan[4] for plan in self.plans if plan[4] is not None]
            for event in events:
                event.pledge = event.pledge  # its pledge now has an id
            for batch in _chunks(events):
                StatusEvent.objects.bulk_create(batch)
                StatusEvent.history.bulk_history_create(batch, **history)
            for plan in self.plans:
                plan[0].pledge_id = plan[1].pk
            services.bump_data_version()
        self.report.applied = True

    def _write_links(self, batch, history, update):
        """Many-to-many links, then the pledges' history rows with a snapshot of their links."""
        snapshots = {}
        for name, other in (("objectives", "objective_id"), ("sources", "source_id")):
            through = getattr(Pledge, name).through
            rewrite = [plan for plan in batch
                       if not update or name in plan[0].changes or plan[1].pk not in self.links[name]]
            if update:
                stale = [plan[1].pk for plan in rewrite if name in plan[0].changes]
                through.objects.filter(pledge_id__in=stale).delete()
            rows = []
            for plan in batch:
                pledge, related = plan[1], plan[2] if name == "objectives" else plan[3]
                if update and name not in plan[0].changes:
                    existing = self.links[name].get(pledge.pk, {})
                    snapshots.setdefault(name, {})[pledge.pk] = [
                        through(id=link_id, pledge_id=pledge.pk, **{other: other_id})
                        for other_id, link_id in existing.items()]
                    continue
                links = [through(pledge_id=pledge.pk, **{other: record.pk}) for record in related]
                rows.extend(links)
                snapshots.setdefault(name, {})[pledge.pk] = links
            through.objects.bulk_create(rows, batch_size=BATCH)
        records = Pledge.history.bulk_history_create([plan[1] for plan in batch], update=update, **history)
        for name, other in (("objectives", "objective"), ("sources", "source")):
            m2m_history = getattr(Pledge.history.model, name).model
            m2m_history.objects.bulk_create([
                m2m_history(history=record, id=link.id, pledge_id=link.pledge_id,
                            **{f"{other}_id": getattr(link, f"{other}_id")})
                for record in records for link in snapshots.get(name, {}).get(record.id, [])
            ], batch_size=BATCH)

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

