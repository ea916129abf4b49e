"""Our own spreadsheet template: one row per pledge, the same columns in and out.

Exports write exactly what imports read, so export -> import into another tracker reproduces the
pledges. The columns, with what each holds, are COLUMNS below (and the README, and the blank template's
"columns" sheet).
"""
import csv
import datetime
import io
import re
from decimal import Decimal

from openpyxl import Workbook

from .. import selectors
from ..models import DatePrecision, Disclosure, NationKind, PledgeKind, Status, Valuation
from . import files
from .rows import (
    CellError,
    PledgeRow,
    Sheet,
    SourceRef,
    StatusRef,
    boolean,
    choice,
    decimal,
    iso_date,
    join_list,
    parse_cells,
    split_list,
    text,
    year,
)

COLUMNS = {
    "external_id": "Your stable id for the pledge (up to 100 characters). A row whose id is already in the tracker "
                   "updates that pledge. Exports write tracker:<number> for pledges entered by hand.",
    "coalition": "Coalition name or slug. Empty: the default coalition. A name the tracker does not know creates it.",
    "nation": "Who pledges: a name, an ISO 3166-1 code or a known alias (United States, Czech Republic, "
              "EU (Commission and Council), European Peace Facility). Required.",
    "nation_code": "ISO 3166-1 alpha-2 code, e.g. GB. Optional; when given it decides the nation.",
    "nation_kind": "For a contributor the tracker does not know yet that is not a state: eu_institution, fund, "
                   "alliance or other (it is then created with that name). Empty: a state.",
    "nation_pass_through": "yes for such a body funded by other contributors (e.g. the European Peace Facility), "
                           "left out of totals so its money is not counted twice.",
    "kind": "military, financial, humanitarian, personnel, training, logistical or expertise. Required.",
    "description": "What is pledged, in words. Required.",
    "quantity": "How many units, e.g. 4000. Empty when there is none or it is undisclosed.",
    "unit": "What the quantity counts, e.g. troops, aircraft. Required with a quantity.",
    "quantity_undisclosed": "yes when the source says there is a quantity but does not give it (never read as 0).",
    "amount": "Value in the original currency, e.g. 80000000 or 80,000,000.",
    "currency": "ISO 4217 code with an ECB rate, e.g. EUR, GBP, USD. Required with an amount.",
    "valuation_basis": "reported (the source gives the value), estimated (from prices) or not_valued. "
                       "Default: reported.",
    "source_eur_value": "The EUR value a dataset gives, kept to compare with ours. Optional.",
    "is_conditional": "yes when the pledge depends on a condition.",
    "condition": "The condition in words, e.g. in the event of a ceasefire. Required when is_conditional is yes.",
    "announced_on": "Announcement date, YYYY-MM-DD. The EUR value uses the ECB rate of this date.",
    "announced_precision": "How exact that date is: day, month, year, until (on or before) or unknown. Default: day.",
    "earmarked_from": "First year the pledge is earmarked for, e.g. 2025.",
    "earmarked_to": "Last earmarked year.",
    "disclosure": "public, partial or confidential. Default: public.",
    "objectives": "The coalition's objectives it serves: titles or slugs, one per line or separated by ;. "
                  "A title the coalition does not have creates that objective.",
    "sources": "The sources it rests on: URLs (or titles, for documents without one), one per line or separated "
               "by ;. A URL or title the tracker does not have creates that source.",
    "status": "Its latest stage: announced, committed, allocated, partially_delivered, delivered, stalled, "
              "cancelled or superseded. Empty: record no stage.",
    "status_on": "Date of that stage, YYYY-MM-DD. Required with a status.",
    "status_source": "URL (or title) of the source showing that stage. Required with a status.",
    "delivered_quantity": "Quantity delivered by status_on, in total so far.",
    "delivered_eur": "Value delivered by status_on, in EUR, in total so far.",
    "is_example": "yes for illustrative data, marked \"example\" wherever it appears.",
}
# Written by exports for readers of the file; ignored by imports (the tracker computes them).
EXPORT_ONLY = {
    "eur_value": "EUR value computed by the tracker (ECB rate of the announcement date). Ignored on import.",
    "publication": "draft or published. Ignored on import: reviewers publish.",
}
REQUIRED = ("external_id", "nation", "kind", "description")

PARSERS = {
    "external_id": lambda v: text(v, 100),
    "coalition": lambda v: text(v, 200),
    "nation": lambda v: text(v, 200),
    "nation_code": lambda v: text(v, 2).upper(),
    "nation_kind": choice([c for c in NationKind.choices]),
    "nation_pass_through": boolean,
    "kind": choice(PledgeKind.choices),
    "description": text,
    "quantity": decimal,
    "unit": lambda v: text(v, 50),
    "quantity_undisclosed": boolean,
    "amount": decimal,
    "currency": lambda v: text(v, 3).upper(),
    "valuation_basis": choice(Valuation.choices),
    "source_eur_value": decimal,
    "is_conditional": boolean,
    "condition": text,
    "announced_on": iso_date,
    "announced_precision": choice(DatePrecision.choices),
    "earmarked_from": year,
    "earmarked_to": year,
    "disclosure": choice(Disclosure.choices),
    "objectives": split_list,
    "sources": split_list,
    "status": choice([c for c in Status.choices if c[0] != Status.UNVERIFIED]),
    "status_on": iso_date,
    "status_source": text,
    "delivered_quantity": decimal,
    "delivered_eur": decimal,
    "is_example": boolean,
}
PLEDGE_FIELDS = ["kind", "description", "quantity", "unit", "quantity_undisclosed", "amount", "currency",
                 "valuation_basis", "source_eur_value", "is_conditional", "condition", "announced_on",
                 "announced_precision", "earmarked_from", "earmarked_to", "disclosure", "is_example"]
DEFAULTS = {"valuation_basis": Valuation.REPORTED, "announced_precision": DatePrecision.DAY,
            "disclosure": Disclosure.PUBLIC}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def spreadsheet_safe(value):
    """Text a spreadsheet would run as a formula gets a leading quote; imports take it off again."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _unquote(value):
    if isinstance(value, str) and value[:1] == "'" and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def source_ref(value):
    value = value.strip()
    if value.lower().startswith(("http://", "https://")):
        return SourceRef(url=value)
    return SourceRef(title=value)


def read(data, filename, release_date=None):
    table = files.read(data, filename, REQUIRED)
    unknown = [name for name in table.columns if name not in COLUMNS and name not in EXPORT_ONLY]
    if unknown:
        raise files.FileError(
            "Unknown column(s): " + ", ".join(f"“{name}”" for name in unknown)
            + ". The template's columns are: " + ", ".join(COLUMNS) + ".")
    parsers = {column: PARSERS[column] for column in table.columns if column in PARSERS}
    return Sheet([parse_row(line, values, parsers) for line, values in table])


def parse_row(line, values, parsers=PARSERS):
    row = PledgeRow(line)
    values = {column: _unquote(value) for column, value in values.items()}
    cells = parse_cells(row, line, values, parsers)
    for column in REQUIRED:
        if column in cells and not cells[column]:
            row.error(column, "is required")
    row.key = cells.get("external_id", "")
    row.coalition = cells.get("coalition", "")
    row.nation = cells.get("nation", "")
    row.nation_code = cells.get("nation_code", "")
    row.nation_kind = cells.get("nation_kind") or ""
    row.nation_pass_through = cells.get("nation_pass_through")
    for name in PLEDGE_FIELDS:
        if name in cells:
            value = cells[name]
            row.fields[name] = DEFAULTS.get(name, value) if value is None and name in DEFAULTS else value
    if "objectives" in cells:
        row.objectives = cells["objectives"]
    if "sources" in cells:
        row.sources = [source_ref(value) for value in cells["sources"]]
    _parse_status(row, cells)
    return row


def _parse_status(row, cells):
    status, on, source = cells.get("status"), cells.get("status_on"), cells.get("status_source", "")
    delivered = (cells.get("delivered_quantity"), cells.get("delivered_eur"))
    if not status:
        if on or source or any(value is not None for value in delivered):
            if "status" in cells:
                row.error("status", "is required with status_on, status_source and delivered figures")
        return
    if on is None and not any(column == "status_on" for _, column, _ in row.errors):
        row.error("status_on", "is required with a status")
    if not source:
        row.error("status_source", "is required with a status")
    if on and source:
        row.events.append(StatusRef(status=status, occurred_on=on, source=source_ref(source),
                                    delivered_quantity=delivered[0], delivered_eur=delivered[1]))


# Export


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (datetime.date, Decimal, int)):
        return value
    return spreadsheet_safe(str(value))


def _source_cell(source):
    return source.url or source.title


# With an as-of date, these columns hold the figures in force that day (the pledge's period then), as the API does.
AS_OF_COLUMNS = ["quantity", "unit", "quantity_undisclosed", "is_conditional", "source_eur_value", "eur_value",
                 "delivered_quantity", "delivered_eur"]


def export_rows(pledges, as_of=None, ordering=("id",)):
    """Template rows for a queryset of pledges, read in bulk (a fixed number of queries per 2,000 pledges), in
    `ordering`. With `as_of`, the status, deliveries and figures are those in force that day (the API's downloads)."""
    if as_of is not None:
        pledges = selectors.with_state(pledges, as_of)
    pledges = pledges.select_related("coalition", "nation").prefetch_related(
        "objectives", "sources", "status_events__source").order_by(*ordering)
    for pledge in pledges.iterator(chunk_size=2000):
        events = sorted(pledge.status_events.all(), key=lambda e: (e.occurred_on, e.pk))
        if as_of is not None:
            events = [event for event in events if event.occurred_on <= as_of]
        latest = events[-1] if events else None
        row = {
            "external_id": pledge.external_id or f"tracker:{pledge.pk}",
            "coalition": pledge.coalition.name,
            "nation": pledge.nation.name,
            "nation_code": pledge.nation.code,
            "nation_kind": "" if pledge.nation.kind == NationKind.STATE else pledge.nation.kind,
            "nation_pass_through": pledge.nation.is_pass_through if pledge.nation.is_pass_through else None,
            **{name: getattr(pledge, name) for name in PLEDGE_FIELDS},
            "objectives": join_list(o.title for o in pledge.objectives.all()),
            "sources": join_list(_source_cell(s) for s in sorted(pledge.sources.all(), key=lambda s: s.pk)),
            "status": latest.status if latest else "",
            "status_on": latest.occurred_on if latest else None,
            "status_source": _source_cell(latest.source) if latest else "",
            "delivered_quantity": pledge.delivered_quantity if latest else None,
            "delivered_eur": pledge.delivered_eur if latest else None,
            "eur_value": pledge.eur_value,
            "publication": pledge.publication,
        }
        if as_of is not None:
            row.update({name: getattr(pledge, f"state_{name}") for name in AS_OF_COLUMNS})
            row["delivered_quantity"] = row["delivered_quantity"] if latest else None
            row["delivered_eur"] = row["delivered_eur"] if latest else None
        yield {column: _cell(row[column]) for column in HEADER}


HEADER = [*COLUMNS, *EXPORT_ONLY]

EXAMPLE_ROW = {
    "external_id": "example-fr-radars-2025", "coalition": "", "nation": "France", "nation_code": "FR",
    "kind": "military", "description": "Example row, replace or delete it: air-defence radars",
    "quantity": "4", "unit": "radars", "quantity_undisclosed": "no", "amount": "80,000,000", "currency": "EUR",
    "valuation_basis": "reported", "source_eur_value": "", "is_conditional": "yes",
    "condition": "in the event of a ceasefire", "announced_on": "2025-06-01", "announced_precision": "day",
    "earmarked_from": "2025", "earmarked_to": "2026", "disclosure": "public", "objectives": "",
    "sources": "https://www.example.org/statement", "status": "announced", "status_on": "2025-06-01",
    "status_source": "https://www.example.org/statement", "delivered_quantity": "", "delivered_eur": "",
    "is_example": "yes",
}


def write_csv(rows, header=HEADER):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if value is None else value for key, value in row.items()})
    return out.getvalue().encode("utf-8")


CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def xlsx_text(value):
    """Text an XLSX cell can hold: a control character it cannot (a vertical tab pasted into a description) is
    written as its visible symbol (U+2400 onwards), so nothing is dropped silently."""
    if isinstance(value, str) and CONTROL.search(value):
        return CONTROL.sub(lambda m: chr(0x2400 + ord(m.group())), value)
    return value


def write_xlsx(rows, header=HEADER, help_sheet=False):
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("pledges")
    sheet.append(header)
    for row in rows:
        sheet.append([xlsx_text(row.get(column)) for column in header])
    if help_sheet:
        notes = workbook.create_sheet("columns")
        notes.append(["column", "what it holds"])
        for column, description in {**COLUMNS, **EXPORT_ONLY}.items():
            notes.append([column, description])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def export_file(pledges, fmt, as_of=None, ordering=("id",)):
    """The pledges as a template file, CSV or XLSX (export_rows says what as_of and ordering do)."""
    rows = export_rows(pledges, as_of, ordering)
    return write_xlsx(rows) if fmt == "xlsx" else write_csv(rows)


def blank(fmt):
    """The template with one example row, as CSV or XLSX (which adds a sheet explaining each column)."""
    rows = [EXAMPLE_ROW]
    if fmt == "xlsx":
        return write_xlsx(rows, list(COLUMNS), help_sheet=True)
    return write_csv(rows, list(COLUMNS))


__all__ = ["COLUMNS", "CellError", "blank", "export_rows", "read", "write_csv", "write_xlsx"]
