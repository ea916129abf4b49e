"""Import pledges from a file: check every row, then write all of them in one transaction, or none.

Checking resolves nations, coalitions, objectives, sources and existing pledges in bulk (a fixed number of
queries per few thousand rows, never one per row), builds each row's change to its pledge (its figures, links,
item lines and status events) and validates it with the models' own rules through
services.check_pledge_changes. Writing is services.write_pledge_changes: bulk statements, one history entry per
record attributed to the importing user and citing the imported file, the data version bumped once. A row
identical to its pledge is left untouched, so importing the same file twice changes nothing the second time.
"""
import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.utils import timezone

from .. import selectors, services, timeline
from ..models import (
    Coalition,
    ItemDelivery,
    Objective,
    Pledge,
    PledgeItem,
    Source,
    SourceKind,
    StatusEvent,
)
from . import files, kiel, template
from .nations import NationIndex
from .rows import THE_FILE, unique_slug

FORMATS = {"template": template, "kiel": kiel}
CHUNK = 500
PLEDGE_COMPARED = [f.attname for f in Pledge._meta.concrete_fields
                   if f.attname not in ("id", "created_at", "updated_at", "published_at", "published_by_id")]
ITEM_COMPARED = ["name", "item_type", "sub_type", "quantity", "quantity_undisclosed", "unit_price",
                 "unit_price_currency"]
# Where a model field's error is reported, per format: the column the editor filled in.
COLUMNS = {
    "template": {"key": "external_id", "eur_value": "amount", "eur_rate": "currency",
                 "occurred_on": "status_on", "source": "status_source"},
    "kiel": {"key": "ID", "nation": "Countries", "coalition": "coalition", "kind": "Type of Aid General",
             "description": "Explanation", "amount": "Total", "currency": "Original Currency",
             "eur_value": "Total", "source_eur_value": "Converted Value in EUR",
             "announced_on": "Announcement Date", "earmarked_from": "Earmarked year",
             "earmarked_to": "Earmarked year", "quantity": "No. of Units", "unit": "Items",
             "sources": "Source of Aid 1", "status_source": "Source of Aid 1", "occurred_on": "Announcement Date",
             "delivered_eur": "Total monetary value delivered in EUR", "name": "Items",
             "item_type": "Type of Item", "sub_type": "Sub-type of item", "unit_price": "Unit Price in USD"},
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
    notes: list = field(default_factory=list)  # about the file as a whole
    skipped: int = 0
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
        skipped = f"; {self.skipped} blank row(s) skipped" if self.skipped else ""
        return (text or "no rows") + (f" ({extra})" if extra else "") + skipped


class Progress:
    """What a caller may pass to follow a long import; the command passes tqdm bars."""

    def start(self, label, total):
        return self

    def update(self, n=1):
        pass

    def close(self):
        pass


def import_file(data, filename, *, fmt="template", user, coalition=None, publish=False, dry_run=False,
                progress=None, release_date=None):
    """Check (and unless `dry_run` or any row is bad, write) the pledges in a CSV or XLSX file.

    `coalition` (a Coalition, or the name of one to create) receives rows that name none; `release_date` dates
    a dataset release's deliveries (and the changes it makes to figures)."""
    if fmt not in FORMATS:
        raise ValueError(f"Unknown format {fmt!r}")
    if publish and not services.can_publish(user):
        raise PermissionDenied("Only reviewers may publish on import.")
    report = Report(filename=filename, dataset=fmt)
    if release_date is not None and release_date > timezone.localdate():
        report.file_errors.append(f"The release date {release_date.isoformat()} is after today.")
        return report
    try:
        sheet = FORMATS[fmt].read(data, filename, release_date=release_date)
    except files.FileError as exc:
        report.file_errors.append(str(exc))
        return report
    report.notes, report.skipped = list(sheet.notes), sheet.skipped
    report.file_errors += sheet.errors
    run = Import(sheet.rows, report, user=user, fmt=fmt, coalition=coalition, publish=publish,
                 digest=hashlib.sha256(data).hexdigest(), progress=progress or Progress(), release_date=release_date)
    run.columns.update(sheet.columns)
    run.check()
    if report.ok and not dry_run:
        run.write()
    return report


def _chunks(items, size=CHUNK):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Import:
    def __init__(self, rows, report, *, user, fmt, coalition, publish, digest, progress, release_date):
        self.rows, self.report, self.user, self.fmt = rows, report, user, fmt
        self.columns = dict(COLUMNS[fmt])
        self.default_coalition = coalition
        self.publish, self.digest, self.progress, self.release_date = publish, digest, progress, release_date
        self.changes = []  # (outcome, PledgeChange) for new and changed rows
        self.new_records = defaultdict(list)

    def column(self, name):
        return self.columns.get(name, name)

    # Checking

    def check(self):
        self._check_keys()
        self._resolve_coalitions()
        self._resolve_nations()
        self.file_source = self._file_source()
        self._resolve_sources()
        self._resolve_objectives()
        self._load_pledges()
        bar = self.progress.start("checking rows", len(self.rows))
        planned = []
        for row in self.rows:
            planned.append(self._plan_row(row))
            bar.update()
        bar.close()
        services.check_pledge_changes([change for _, change, _ in planned if change is not None],
                                      events=self.events)
        for outcome, change, row in planned:
            if change is not None:
                self._report_errors(row, change)
                self._decide(outcome, change, row)
            outcome.errors = row.errors
            if row.errors:
                outcome.action = "error"
            self.report.outcomes.append(outcome)
        self.report.created.update({label: len(records) for label, records in self.new_records.items()})

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
        slugs = {c.slug for c in index.values()}

        def named(name):
            coalition = index.get(name.casefold())
            if coalition is None:
                coalition = index[name.casefold()] = Coalition(name=name[:200], slug=unique_slug(name, slugs))
                self.new_records["coalitions"].append(coalition)
            return coalition

        default = self.default_coalition
        if isinstance(default, str):
            default = named(" ".join(default.split())) if default.strip() else None
        default = default or selectors.default_coalition()
        self.coalition_of = {}
        for row in self.rows:
            name = " ".join(row.coalition.split())
            if not name and default is None:
                row.error("coalition", "is empty and the tracker has no coalition yet: name one")
            self.coalition_of[id(row)] = named(name) if name else default

    def _resolve_nations(self):
        nations = NationIndex()
        self.nation_of = {}
        for row in self.rows:
            if not row.nation and not row.nation_code:
                continue
            try:
                self.nation_of[id(row)] = nations.resolve(row.nation, row.nation_code, kind=row.nation_kind,
                                                          pass_through=row.nation_pass_through)
            except LookupError as exc:
                row.error(self.column("nation_code" if row.nation_code else "nation"), str(exc))
        self.new_records["nations"] = list(nations.new.values())

    def _file_source(self):
        """The imported file, cited as the source of every change it makes (and of undated deliveries)."""
        label = "Kiel Ukraine Support Tracker file" if self.fmt == "kiel" else "Spreadsheet import"
        release = f", release of {self.release_date.isoformat()}" if self.release_date else ""
        title = f"{label}: {self.report.filename}{release} (sha256 {self.digest[:12]})"[:500]
        publisher = kiel.PUBLISHER if self.fmt == "kiel" else "Imported by an editor"
        source = Source.objects.filter(title=title, publisher=publisher, url="").first()
        return source or Source(title=title, publisher=publisher,
                                published_on=self.release_date or timezone.localdate(),
                                kind=SourceKind.RESEARCH if self.fmt == "kiel" else SourceKind.OTHER)

    def _resolve_sources(self):
        refs = [ref for row in self.rows for ref in (row.sources or [])]
        refs += [event.source for row in self.rows for event in row.events if event.source is not THE_FILE]
        urls = {ref.url for ref in refs if ref.url}
        titles = {ref.title for ref in refs if not ref.url}
        found = {THE_FILE.key: self.file_source}
        for chunk in _chunks(urls):
            found.update({("url", s.url): s for s in Source.objects.filter(url__in=chunk)})
        for chunk in _chunks(titles):
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
                source = Source(title=ref.title, publisher=(ref.publisher or "Not recorded (named in an import)"),
                                kind=ref.kind, is_official=ref.is_official)
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
        """The file's existing pledges, with their links, item lines, status events and items delivered."""
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
        self.links = {"objectives": defaultdict(list), "sources": defaultdict(list)}
        self.items = defaultdict(list)
        self.events = services.existing_events(ids)
        self.delivered = defaultdict(dict)  # event id -> {item id: (units, undisclosed)}
        for chunk in _chunks(ids):
            for name, other in (("objectives", "objective"), ("sources", "source")):
                for link in getattr(Pledge, name).through.objects.filter(pledge_id__in=chunk).select_related(other):
                    self.links[name][link.pledge_id].append(getattr(link, other))
            for item in PledgeItem.objects.filter(pledge_id__in=chunk).order_by("position", "id"):
                self.items[item.pledge_id].append(item)
            for delivery in ItemDelivery.objects.filter(event__pledge_id__in=chunk).order_by():
                self.delivered[delivery.event_id][delivery.item_id] = (delivery.quantity,
                                                                       delivery.quantity_undisclosed)

    def _plan_row(self, row):
        """The row's change to its pledge (new, or the existing one with the file's values set), unvalidated."""
        before = self.existing.get(row.key)
        outcome = Outcome(line=row.line, key=row.key, action="error", nation=row.nation,
                          description=(row.fields.get("description") or "")[:120],
                          pledge_id=before.pk if before else None, notes=list(row.notes))
        if before is None:
            pledge = Pledge(external_id=row.key or None)
        else:
            pledge = before
        old = {name: getattr(pledge, name) for name in PLEDGE_COMPARED} if before else None
        coalition, nation = self.coalition_of.get(id(row)), self.nation_of.get(id(row))
        if coalition is not None:
            pledge.coalition = coalition
        if nation is not None:
            pledge.nation = nation
        elif before is None and not any(column in (self.column("nation"), self.column("nation_code"))
                                        for _, column, _ in row.errors):
            row.error(self.column("nation"), "is required")
        for name, value in row.fields.items():
            setattr(pledge, name, value)
        items, items_changed = self._items(row, before)
        new_events, changed_events = self._events(row, before, items)
        change = services.PledgeChange(
            pledge, objectives=self._related(row, before, "objectives", self._row_objectives(row)),
            sources=self._related(row, before, "sources", self._row_sources(row)), items=items,
            new_events=new_events, changed_events=changed_events, effective_on=self.release_date,
            delivery_beyond_pledge_is_a_note=row.third_party)
        if self.publish and not pledge.is_published:
            if not (change.sources if change.sources is not None else self.links["sources"].get(pledge.pk)):
                row.error(self.column("sources"), "a pledge must cite a source to be published")
            pledge.publication = Pledge.Publication.PUBLISHED
            pledge.published_at = timezone.now()
            pledge.published_by = self.user if self.user.is_authenticated else None
        change.before, change.items_changed = old, items_changed
        return outcome, change, row

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

    def _related(self, row, before, name, wanted):
        """The records a pledge should link to: None (unchanged) when the file does not say; the file's set; or
        for a dataset import (Kiel) the file's added to what editors linked, since a dataset never removes an
        editor's work."""
        current = self.links[name].get(before.pk, []) if before is not None else []
        if wanted is None:
            return None
        if self.fmt == "kiel":
            return list({id(o): o for o in [*current, *wanted]}.values())
        return wanted

    def _items(self, row, before):
        """The row's item lines, matched by position to the pledge's existing ones. Returns (items, changed)."""
        if row.items is None:
            return None, False
        have = self.items.get(before.pk, []) if before is not None else []
        items, changed = [], len(have) != len(row.items)
        for index, ref in enumerate(row.items):
            item = have[index] if index < len(have) else PledgeItem()
            values = {"name": ref.name, "item_type": ref.item_type, "sub_type": ref.sub_type,
                      "quantity": ref.quantity, "quantity_undisclosed": ref.undisclosed, "unit_price": ref.unit_price,
                      "unit_price_currency": ref.unit_price_currency}
            if item.pk is None or any(getattr(item, name) != value for name, value in values.items()):
                changed = True
                for name, value in values.items():
                    setattr(item, name, value)
            items.append(item)
        return items, changed

    def _events(self, row, before, items):
        """New status events, and existing ones (same day and status) whose figures the file changes. A new
        event that would change nothing on its day (same stage, same deliveries) is not added."""
        known = list(self.events.get(before.pk, [])) if before is not None else []
        new, changed = [], []
        for ref in row.events:
            if ref.source.key in self.source_errors:
                row.error(self.column("status_source"), self.source_errors[ref.source.key])
                continue
            source = self.sources[ref.source.key]
            units = None if ref.item_units is None else [(items[i], count, hidden)
                                                         for i, count, hidden in ref.item_units]
            same = next((e for e in known if e.status == ref.status and e.occurred_on == ref.occurred_on), None)
            if same is not None:
                wanted = (ref.delivered_quantity, ref.delivered_eur, ref.note, source)
                if (same.delivered_quantity, same.delivered_eur, same.note, same.source) != wanted \
                        or (units is not None and not self._units_match(units, self.delivered.get(same.pk, {}))):
                    same.delivered_quantity, same.delivered_eur, same.note, same.source = wanted
                    same.item_units = units
                    changed.append(same)
                continue
            event = StatusEvent(status=ref.status, occurred_on=ref.occurred_on, source=source, note=ref.note,
                                delivered_quantity=ref.delivered_quantity, delivered_eur=ref.delivered_eur,
                                recorded_by=self.user if self.user.is_authenticated else None)
            event.item_units = units
            steps = [*known, *new]
            if timeline.stage_on(steps, ref.occurred_on) == timeline.stage_on([*steps, event], ref.occurred_on) \
                    and (units is None or self._units_match(units, self._units_on(steps, ref.occurred_on))):
                continue
            new.append(event)
        return new, changed

    def _units_on(self, events, day):
        """{item id: (units, undisclosed)} delivered by `day`, from events (saved ones, and new ones' item_units)."""
        found = {}
        for event in sorted(events, key=timeline.event_order):
            if event.occurred_on > day:
                break
            if event.pk is not None:
                found.update(self.delivered.get(event.pk, {}))
            for item, count, hidden in getattr(event, "item_units", None) or []:
                found[item.pk] = (count, hidden)
        return found

    @staticmethod
    def _units_match(units, reported):
        return all(item.pk is not None and reported.get(item.pk) == (count, hidden) for item, count, hidden in units)

    def _report_errors(self, row, change):
        """The model rules' findings, each under the column the file gave the value in."""
        already = {column for _, column, _ in row.errors}  # a bad cell explains its own follow-on errors
        found = list(change.errors.get("pledge", {}).items())
        for kind in ("events", "items"):
            found += [pair for _, errors in change.errors.get(kind, []) for pair in errors.items()]
        for name, messages in found:
            column = self.column(name)
            if column in already:
                continue
            for message in dict.fromkeys(messages):
                row.error(column, message)
        row.notes += [note for note in change.notes if note not in row.notes]

    def _decide(self, outcome, change, row):
        outcome.notes = list(row.notes)
        if row.errors:
            return
        if change.is_new:
            outcome.action = "new"
            self.changes.append((outcome, change))
            return
        pledge = change.pledge
        changes = [name.removesuffix("_id") for name in PLEDGE_COMPARED if change.before[name] != getattr(pledge, name)]
        for name in ("objectives", "sources"):
            wanted = getattr(change, name)
            if wanted is not None and ({o.pk for o in wanted} != {o.pk for o in self.links[name].get(pledge.pk, [])}
                                       or any(o.pk is None for o in wanted)):
                changes.append(name)
        if change.items_changed:
            changes.append("items")
        if change.new_events or change.changed_events:
            changes.append("status events")
        if not changes:
            outcome.action = "unchanged"
            return
        outcome.action, outcome.changes = "changed", changes
        self.changes.append((outcome, change))

    # Writing

    def write(self):
        if self.changes:
            created = [record for label in ("coalitions", "nations", "sources", "objectives")
                       for record in self.new_records.get(label, [])]
            bar = self.progress.start("writing pledges", len(self.changes))
            services.write_pledge_changes([change for _, change in self.changes], user=self.user,
                                          reason=f"Imported from {self.report.filename}"[:100],
                                          source=self.file_source, created=created)
            bar.update(len(self.changes))
            bar.close()
            for outcome, change in self.changes:
                outcome.pledge_id = change.pledge.pk
        self.report.applied = True
