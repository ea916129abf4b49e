"""A pledge's state over time, derived in this one place: its stage, deliveries and figures on any day.

Everything that shows a pledge "as of" a date reads what this derives: the stored periods (PledgePeriod) that
totals, lists, timelines and pages aggregate, the pledge's own current status, and the importer's comparisons.

- A pledge starts on its announcement date; with none known, on the date of its first status event (the day it
  is first known to exist); with neither, it has no place in time and counts only in today's figures.
- Its stage on a day is set by the latest status event on or before that day (by date, then by order of
  recording); with none it is "unverified", not yet rated. Delivered figures are the latest any event reported.
- Its figures (amount, EUR values, quantity, conditionality) on a day are those of the most recently recorded
  revision taking effect on or before that day; a revision without a date applies from the start.

Inputs are plain objects with the models' attribute names, so the same code runs on model instances, on rows
read in bulk and in migrations.
"""
import datetime
from dataclasses import dataclass, fields
from decimal import Decimal

UNVERIFIED = "unverified"


@dataclass(frozen=True)
class Stage:
    status: str
    delivered_quantity: Decimal | None
    delivered_eur: Decimal | None


@dataclass(frozen=True)
class Figures:
    amount: Decimal | None = None
    currency: str = ""
    eur_value: Decimal | None = None
    source_eur_value: Decimal | None = None
    quantity: Decimal | None = None
    unit: str = ""
    quantity_undisclosed: bool = False
    is_conditional: bool = False

    @classmethod
    def of(cls, record):
        """The figures of a pledge or a revision (any object with those attributes)."""
        return cls(**{f.name: getattr(record, f.name) for f in fields(cls)})


FIGURE_NAMES = [f.name for f in fields(Figures)]


@dataclass(frozen=True)
class Period:
    valid_from: datetime.date | None  # None: the pledge has no known date
    valid_to: datetime.date | None  # exclusive; None: still current
    stage: Stage
    figures: Figures

    def contains(self, day):
        if day is None:
            return self.valid_to is None
        return self.valid_from is not None and self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


def event_order(event):
    """Events by date, then in the order they were recorded (one not saved yet comes last)."""
    return event.occurred_on, event.pk if event.pk is not None else float("inf")


def stage_on(events, day=None):
    """The stage and cumulative deliveries from status events, as they stood on `day` (None: all events)."""
    stage = Stage(UNVERIFIED, None, None)
    for event in sorted(events, key=event_order):
        if day is not None and event.occurred_on > day:
            break
        stage = Stage(
            event.status,
            event.delivered_quantity if event.delivered_quantity is not None else stage.delivered_quantity,
            event.delivered_eur if event.delivered_eur is not None else stage.delivered_eur,
        )
    return stage


def figures_on(revisions, day=None):
    """The figures in force on `day` (None: the latest recorded), from revisions in the order they were recorded."""
    chosen = None
    for revision in revisions:
        if day is None or revision.effective_on is None or revision.effective_on <= day:
            chosen = revision
    if chosen is None and revisions:  # every revision takes effect later: the first recorded one until then
        chosen = revisions[0]
    return Figures.of(chosen) if chosen is not None else Figures()


def start_of(announced_on, events):
    """The first day a pledge counts: its announcement, else its first status event, else None."""
    if announced_on is not None:
        return announced_on
    return min((e.occurred_on for e in events), default=None)


def periods(announced_on, events, revisions):
    """The pledge's state as consecutive periods [valid_from, valid_to), merged where nothing changes.

    `revisions` must be in the order they were recorded (by id)."""
    events = sorted(events, key=event_order)
    start = start_of(announced_on, events)
    if start is None:
        return [Period(None, None, stage_on(events), figures_on(revisions))]
    days = {start}
    days.update(e.occurred_on for e in events if e.occurred_on > start)
    days.update(r.effective_on for r in revisions if r.effective_on is not None and r.effective_on > start)
    found = []
    for day in sorted(days):
        stage, figures = stage_on(events, day), figures_on(revisions, day)
        if found and found[-1].stage == stage and found[-1].figures == figures:
            continue
        if found:
            found[-1] = Period(found[-1].valid_from, day, found[-1].stage, found[-1].figures)
        found.append(Period(day, None, stage, figures))
    return found


def state_on(all_periods, day=None):
    """The period in force on `day` (None: today's state), or None if the pledge did not count that day."""
    return next((p for p in all_periods if p.contains(day)), None)
