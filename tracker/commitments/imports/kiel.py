"""The Kiel Institute's Ukraine Support Tracker, main data sheet ("Bilateral Assistance, MAIN DATA").

One activity ID (e.g. AUM3) spans several rows; each ID becomes one pledge (external id "kiel:<ID>").

- **Value**: every row whose Total_value_dummy is 1 is a value row (a package may have several: yearly
  tranches, instruments); the package's value is the sum of all of them, each converted with our ECB rate on
  its own, and Kiel's own EUR figure is the sum of their "Converted Value in EUR". Item rows (dummy 0) repeat
  the source's figure and never count. A package with no valued row is not counted by Kiel in that release:
  it is "not valued", never given the source's raw figure.
- **Items**: each row naming an item becomes an item line (name, type, sub-type, units pledged or
  undisclosed, unit price in USD).
- **Deliveries**: Kiel's delivery columns carry no date. With the release's date they become a status event
  on that date ("partially delivered", or "delivered" when everything is), with the delivered EUR and the units
  delivered per item, citing the delivery source or else the file. A later release reporting more adds a
  later event, so "as of" views show deliveries growing release by release.
- **Quirks** of a real release are notes, never errors: dates written as words (an unknown date), dates that
  do not exist (read at the precision that survives), unreadable numbers, rows with neither ID nor donor
  (skipped and counted). What cannot be read at all is an error: an unknown donor, a kind of aid other than
  Military, Financial or Humanitarian, a value in a currency with no ECB rate and no Kiel EUR figure.

Columns are found by their header (case and spacing aside) wherever they stand.
"""
import datetime
import re
from decimal import Decimal
from urllib.parse import urlsplit

from .. import valuation
from ..models import DatePrecision, PledgeKind, SourceKind, Status, Valuation
from . import files
from .rows import THE_FILE, CellError, ItemRef, PledgeRow, Sheet, SourceRef, StatusRef, decimal, text

DATASET = "Kiel Ukraine Support Tracker"
PUBLISHER = "Kiel Institute for the World Economy"
REQUIRED = ("ID", "Countries", "Announcement Date", "Type of Aid General")

# Logical name -> accepted headers (case-folded, whitespace collapsed); a header starting with one of them counts.
COLUMNS = {
    "id": ["id"],
    "donor": ["countries", "country", "donor"],
    "date": ["announcement date"],
    "kind": ["type of aid general"],
    "specific": ["type of aid specific"],
    "explanation": ["explanation"],
    "currency": ["original currency"],
    "given": ["monetary value as given by source"],
    "item": ["items"],
    "item_type": ["type of item"],
    "sub_type": ["sub-type of item"],
    "units": ["no. of units"],
    "units_delivered": ["no. of units delivered"],
    "unit_price": ["unit price in usd"],
    "total": ["total"],
    "kiel_eur": ["converted value in eur"],
    "delivered_eur": ["total monetary value delivered in eur"],
    "official": ["official source"],
    "sources": ["source of aid 1", "source of aid 2", "source of aid 3", "source of aid 4"],
    "all_delivered": ["deliveries = commitments"],
    "official_delivery": ["official delivery source"],
    "delivery_source": ["source for delivery"],
    "value_row": ["total_value_dummy"],
    "basis": ["value_source_commitments"],
    "earmarked": ["earmarked year"],
}
# Exact headers that must not be taken for a shorter one they start with.
EXACT = {"units": "no. of units", "total": "total", "id": "id", "item": "items", "official": "official source"}

# "." and these words mean "no value" in Kiel's cells.
EMPTY = ("", ".", "-", "n/a", "na", "none", "unknown", "not specified", "not given")
KINDS = {"military": PledgeKind.MILITARY, "financial": PledgeKind.FINANCIAL,
         "humanitarian": PledgeKind.HUMANITARIAN}
VALUATION = {
    "value is given by the source": Valuation.REPORTED,
    "value is calculated with prices": Valuation.ESTIMATED,
    "value is not given at all": Valuation.NOT_VALUED,
}
MONTH_DAY_YEAR = re.compile(r"(?<!\d)(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?!\d)", re.ASCII)
MONTH_YEAR = re.compile(r"(?<!\d)(\d{1,2})/(\d{4}|\d{2})(?!\d)", re.ASCII)
YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)", re.ASCII)


class Columns:
    """The file's column for each logical name, found by header."""

    def __init__(self, table):
        names = list(table.columns)
        self.headers = table.headers
        self.found = {}
        for logical, accepted in COLUMNS.items():
            exact = EXACT.get(logical)
            matches = []
            for wanted in accepted:
                for name in names:
                    if (name == exact) if exact else (name == wanted or name.startswith(wanted)):
                        if name not in matches:
                            matches.append(name)
                        break
            self.found[logical] = matches

    def get(self, values, logical):
        columns = self.found.get(logical)
        return values.get(columns[0], "") if columns else ""

    def all(self, values, logical):
        return [values.get(column, "") for column in self.found.get(logical, [])]

    def label(self, logical):
        """The column's header as the file writes it (for reports)."""
        found = self.found.get(logical)
        return self.headers[found[0]] if found else COLUMNS[logical][0]

    def for_fields(self):
        """Where a model field's error is reported: the column its value came from, named as in the file."""
        fields = {"key": "id", "nation": "donor", "kind": "kind", "description": "explanation", "amount": "total",
                  "currency": "currency", "eur_value": "total", "source_eur_value": "kiel_eur",
                  "announced_on": "date", "earmarked_from": "earmarked", "earmarked_to": "earmarked",
                  "quantity": "units", "sources": "sources", "status_source": "sources", "occurred_on": "date",
                  "delivered_eur": "delivered_eur", "name": "item", "item_type": "item_type",
                  "sub_type": "sub_type", "unit_price": "unit_price", "unit_price_currency": "unit_price"}
        return {name: self.label(logical) for name, logical in fields.items()}


def blank(value):
    return value is None or (isinstance(value, str) and value.strip().casefold() in EMPTY)


def _year(digits):
    number = int(digits)
    return number + 2000 if len(digits) == 2 else number


def _month_end(first):
    return (first + datetime.timedelta(days=31)).replace(day=1) - datetime.timedelta(days=1)


def parse_date(value):
    """Kiel's announcement dates as (date, precision, note): "3/1/2022" (month/day/year), "until 6/7/2022",
    "unclear, 04/22" or "not specified, 03/22" (a month), "2022" (a year), "." or words (unknown).

    A day that does not exist ("until 06/31/2022") is read at the precision that survives (the month), with a
    note. Raises CellError only for a number that is no date at all."""
    if isinstance(value, datetime.datetime):
        return value.date(), DatePrecision.DAY, None
    if isinstance(value, datetime.date):
        return value, DatePrecision.DAY, None
    raw = text(value)
    if blank(raw):
        return None, DatePrecision.UNKNOWN, None
    lowered = raw.casefold()
    until = lowered.startswith(("until", "by ", "before"))
    if match := MONTH_DAY_YEAR.search(raw):
        month, day, year = int(match[1]), int(match[2]), _year(match[3])
        try:
            return datetime.date(year, month, day), DatePrecision.UNTIL if until else DatePrecision.DAY, None
        except ValueError:
            if not 1 <= month <= 12:
                raise CellError(f"“{raw}” is not a real date (Kiel writes month/day/year)") from None
            first = datetime.date(year, month, 1)
            note = f"“{raw}” names a day that does not exist: read as {first:%B %Y}"
            if until:
                return _month_end(first), DatePrecision.UNTIL, note
            return first, DatePrecision.MONTH, note
    if match := MONTH_YEAR.search(raw):
        if not 1 <= int(match[1]) <= 12:
            raise CellError(f"“{raw}” is not a real month (Kiel writes mm/yy)")
        first = datetime.date(_year(match[2]), int(match[1]), 1)
        if until:  # "until 6/2022": on or before the month's last day
            return _month_end(first), DatePrecision.UNTIL, None
        return first, DatePrecision.MONTH, None
    if match := YEAR.fullmatch(raw.strip(" .")) or YEAR.search(raw):
        return datetime.date(int(match[1]), 1, 1), DatePrecision.YEAR, None
    if any(ch.isdigit() for ch in raw):
        raise CellError(f"“{raw}” is not a date Kiel writes (month/day/year, “until m/d/yyyy” or “mm/yy”)")
    return None, DatePrecision.UNKNOWN, f"announcement date “{raw}” is words, not a date: the date is unknown"


def parse_earmarked(value):
    """"2022" or "2022-2023" (also "2022/23") as (first, last) years."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value), int(value)
    raw = text(value)
    if blank(raw):
        return None, None
    if match := re.fullmatch(r"(\d{4})\s*[-–/]\s*(\d{2}|\d{4})", raw, re.ASCII):
        first, last = int(match[1]), int(match[2])
        if last < 100:
            last += first // 100 * 100
        return first, last
    if re.fullmatch(r"\d{4}", raw, re.ASCII):
        return int(raw), int(raw)
    raise CellError(f"“{raw}” is not a year or a range of years such as 2022-2023")


def units(value):
    """(quantity, undisclosed) from a units cell: a number, "undisclosed", or nothing (raises for other text)."""
    if not isinstance(value, (int, float)) and text(value).casefold().startswith("undisclosed"):
        return None, True
    return decimal(value, empty=EMPTY), False


def flag(value):
    """Kiel's 1/0 dummies (also yes/no)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value == 1
    return text(value).casefold() in ("1", "1.0", "yes", "true")


def read(data, filename, release_date=None):
    table = files.read(data, filename, REQUIRED, fold=True)
    columns = Columns(table)
    packages, skipped = {}, 0
    for line, values in table:
        package_id = text(columns.get(values, "id"))
        donor = text(columns.get(values, "donor"))
        if blank(package_id) and blank(donor):
            skipped += 1  # a blank row, or one holding only a stray value
            continue
        packages.setdefault(package_id if not blank(package_id) else ("", line), []).append((line, values))
    rows = [Package(key, lines, columns, release_date).build() for key, lines in packages.items()]
    sheet = Sheet(rows, skipped=skipped, columns=columns.for_fields())
    if skipped:
        sheet.notes.append(f"{skipped} row(s) with neither an ID nor a donor were skipped.")
    delivering = sum(1 for row in rows if row.reports_deliveries)
    if delivering and release_date is None:
        sheet.errors.append(f"{delivering} package(s) report deliveries, which Kiel does not date: give the "
                            "release's date (the release date field, or --release-date YYYY-MM-DD) and they are "
                            "recorded as delivered by that day.")
    return sheet


class Package:
    """One pledge from the rows of one Kiel ID."""

    def __init__(self, package_id, lines, columns, release_date):
        self.package_id, self.lines, self.columns, self.release_date = package_id, lines, columns, release_date
        self.value_lines = [(n, v) for n, v in lines if flag(columns.get(v, "value_row"))]
        self.head_line, self.head = (self.value_lines or lines)[0]
        self.row = PledgeRow(self.head_line, third_party=True)
        self.item_lines = []  # (line, values) of each item, in the order of row.items

    def cell(self, values, logical, parse, line=None):
        """A parsed cell, or None with a note when it cannot be read (a quirk of the release, not an error)."""
        raw = self.columns.get(values, logical)
        try:
            return parse(raw)
        except CellError as exc:
            self.row.notes.append(f"line {line or self.head_line}, {self.columns.label(logical)}: {exc}; "
                                  "left empty")
            return None

    def build(self):
        row, columns, head = self.row, self.columns, self.head
        if isinstance(self.package_id, tuple):
            row.error(columns.label("id"), "is empty: every Kiel row belongs to an activity ID", self.lines[0][0])
            return row
        row.key = f"kiel:{self.package_id}"
        row.nation = text(columns.get(head, "donor"))
        if blank(row.nation):
            row.error(columns.label("donor"), "is empty", self.head_line)
        kind_cell = text(columns.get(head, "kind"))
        kind = KINDS.get(kind_cell.casefold())
        if kind is None:
            row.error(columns.label("kind"), f"“{kind_cell}” is not Military, Financial or Humanitarian",
                      self.head_line)
        try:
            announced_on, precision, note = parse_date(columns.get(head, "date"))
        except CellError as exc:
            row.notes.append(f"line {self.head_line}, {columns.label('date')}: {exc}; the date is unknown")
            announced_on, precision, note = None, DatePrecision.UNKNOWN, None
        if note:
            row.notes.append(note)
        if announced_on and self.release_date and announced_on > self.release_date:
            row.notes.append(f"announced “{text(columns.get(head, 'date'))}”, yet in the release of "
                             f"{self.release_date.isoformat()}: read as on or before that day")
            announced_on, precision = self.release_date, DatePrecision.UNTIL
        earmarked = [self.cell(v, "earmarked", parse_earmarked, n) or (None, None) for n, v in self.value_lines]
        firsts = [e[0] for e in earmarked if e[0]]
        lasts = [e[1] for e in earmarked if e[1]]
        basis = VALUATION.get(text(columns.get(head, "basis")).casefold(), Valuation.REPORTED)

        explanation = text(columns.get(head, "explanation"))
        specific = " ".join(text(columns.get(head, "specific")).split())
        description = explanation if not blank(explanation) else f"{specific or 'Support'} ({self.package_id})"
        fields = {
            "kind": kind, "valuation_basis": basis, "description": description,
            "announced_on": announced_on, "announced_precision": precision,
            "earmarked_from": min(firsts) if firsts else None, "earmarked_to": max(lasts) if lasts else None,
            "is_conditional": False, "quantity": None, "unit": "", "quantity_undisclosed": False,
        }
        self._value(fields, announced_on)
        row.items = self._items()
        fields["disclosure"] = "partial" if any(item.undisclosed for item in row.items) else "public"
        row.fields = fields
        row.sources = self._sources()
        self._events(announced_on)
        return row

    def _value(self, fields, on):
        """Amount, currency and Kiel's EUR figure: the sum of the value rows, each converted on its own."""
        row, columns = self.row, self.columns
        tranches, kiel_total, kiel_missing = [], Decimal(0), 0
        for line, values in self.value_lines:
            amount = self.cell(values, "total", money, line)
            kiel_eur = self.cell(values, "kiel_eur", money, line)
            if amount is None and kiel_eur is not None:
                amount = self.cell(values, "given", money, line)
                if amount is not None:
                    row.notes.append(f"line {line}: no “Total”; valued from “Monetary Value as Given by Source”")
            if kiel_eur is not None:
                kiel_total += kiel_eur
            elif amount is not None:
                kiel_missing += 1
            if amount is None and kiel_eur is None:
                continue
            currency = text(columns.get(values, "currency")).upper()
            if blank(currency):
                currency = ""
            tranches.append((line, amount, currency, kiel_eur))
        for line, values in self.lines:
            if (line, values) not in self.value_lines and not blank(columns.get(values, "kiel_eur")):
                row.notes.append(f"line {line}: an item row (Total_value_dummy 0) gives a EUR value; "
                                 "as in Kiel's totals, it is not counted")
        fields["source_eur_value"] = kiel_total if any(t[3] is not None for t in tranches) else None
        if kiel_missing and fields["source_eur_value"] is not None:
            row.notes.append(f"{kiel_missing} value row(s) give no “Converted Value in EUR”: Kiel's EUR figure "
                             "covers the others only")
        if not tranches:
            fields.update(amount=None, currency="", valuation_basis=Valuation.NOT_VALUED)
            row.notes.append("no valued row: not valued in this release (Kiel does not count it)")
            return
        converted = []  # (currency, amount, our EUR or None)
        self.originals = "; ".join(f"{currency or '?'} {_number(amount)}" for _, amount, currency, _ in tranches
                                   if amount is not None)
        self.at_kiel_rate = False
        for line, amount, currency, kiel_eur in tranches:
            if amount is None:  # only Kiel's EUR figure
                converted.append(("EUR", kiel_eur, kiel_eur))
                row.notes.append(f"line {line}: valued at Kiel's EUR figure (no amount in the original currency)")
                continue
            if not currency:
                if kiel_eur is None:
                    row.error(columns.label("currency"), "is empty but the row has a value", line)
                    return
                converted.append(("EUR", kiel_eur, kiel_eur))
                row.notes.append(f"line {line}: no currency; valued at Kiel's EUR figure")
                continue
            try:
                if on is None and currency != "EUR":
                    raise valuation.NoRate("the announcement date is unknown")
                rate = valuation.eur_rate(currency, on)
            except valuation.NoRate as exc:
                if kiel_eur is None:
                    row.error(columns.label("currency"), f"{exc}, and the row gives no “Converted Value in EUR”",
                              line)
                    return
                converted.append(("EUR", kiel_eur, kiel_eur))
                self.at_kiel_rate = True
                row.notes.append(f"{currency} {_number(amount)}: no ECB rate ({exc}); valued at Kiel's EUR figure")
                continue
            converted.append((currency, amount, valuation.to_eur(amount, rate)))
        currencies = {c for c, _, _ in converted}
        if len(currencies) == 1:
            fields.update(amount=sum(a for _, a, _ in converted), currency=currencies.pop())
        else:
            fields.update(amount=sum(eur for _, _, eur in converted), currency="EUR")
            row.notes.append(f"value rows in several currencies ({self.originals}): each converted on its own, "
                             "the pledge's amount is their sum in EUR")
        if len(converted) > 1:
            row.notes.append(f"{len(converted)} value rows summed")
        if self.at_kiel_rate or len(currencies) > 1:
            # Readers see the figures the source gave, not only the EUR sum they were turned into.
            fields["description"] += (f"\n\nValue as given: {self.originals}"
                                      + ("; valued at Kiel's EUR figure where the ECB publishes no rate"
                                         if self.at_kiel_rate else "") + ".")

    def _items(self):
        items, columns = [], self.columns
        for line, values in self.lines:
            name = text(columns.get(values, "item"))
            if blank(name):
                continue
            quantity, undisclosed = self.cell(values, "units", units, line) or (None, False)
            price = self.cell(values, "unit_price", money, line)
            items.append(ItemRef(
                name=name[:300], item_type=_category(columns.get(values, "item_type"))[:100],
                sub_type=_category(columns.get(values, "sub_type"))[:200], quantity=quantity,
                undisclosed=undisclosed, unit_price=price, unit_price_currency="USD" if price is not None else ""))
            self.item_lines.append((line, values))
        return items

    def _sources(self):
        official = flag(self.columns.get(self.head, "official"))
        refs = {}
        for _line, values in self.lines:
            for value in self.columns.all(values, "sources"):
                ref = source_ref(value)
                if ref is not None and ref.key not in refs:
                    refs[ref.key] = ref
        refs = list(refs.values())
        if refs and official:
            refs[0].is_official, refs[0].kind = True, SourceKind.OFFICIAL_STATEMENT
        return refs

    def _events(self, announced_on):
        """"Announced" on its date (or, with no date, on the release's: it was known by then), and the release's
        deliveries on the release's date."""
        row, columns = self.row, self.columns
        first = row.sources[0] if row.sources else None
        if first is not None and (announced_on or self.release_date):
            row.events.append(StatusRef(Status.ANNOUNCED, announced_on or self.release_date, first))
            if announced_on is None:
                row.notes.append("the announcement date is unknown: counted from the release's date, "
                                 "by which it was known")
        elif first is None:
            row.notes.append("no source given: no status is recorded")
        else:
            row.notes.append("the announcement date is unknown: no status is recorded (give the release's date)")

        delivered_eur = None
        for line, values in self.lines:
            value = self.cell(values, "delivered_eur", money, line)
            if value is not None:
                delivered_eur = (delivered_eur or 0) + value
        all_rows = [flag(columns.get(v, "all_delivered")) for _, v in self.lines]
        item_units = []
        for index, (item, (line, values)) in enumerate(zip(row.items, self.item_lines, strict=True)):
            everything = flag(columns.get(values, "all_delivered"))
            delivered = self.cell(values, "units_delivered", units, line)
            count, hidden = delivered if delivered is not None else (None, False)
            if everything and count is None:  # "Deliveries = Commitments": all of it
                count, hidden = item.quantity, item.undisclosed
            if count is not None and count > 0 or everything and (count is not None or hidden):
                item_units.append((index, count, hidden))
                if count is not None and item.quantity is not None and count > item.quantity:
                    row.notes.append(f"line {line}: {_number(count)} units of “{item.name}” delivered, "
                                     f"more than the {_number(item.quantity)} pledged")
        delivers = (delivered_eur or 0) > 0 or item_units or any(all_rows)
        if not delivers:
            return
        row.reports_deliveries = True
        if self.release_date is None:
            return
        pledged = row.fields.get("source_eur_value")
        complete = all(all_rows) or (delivered_eur is not None and pledged is not None and delivered_eur >= pledged)
        source = self._delivery_source() or THE_FILE
        row.events.append(StatusRef(Status.DELIVERED if complete else Status.PARTIALLY_DELIVERED,
                                    self.release_date, source, delivered_eur=delivered_eur, item_units=item_units))

    def _delivery_source(self):
        for _line, values in self.lines:
            ref = source_ref(self.columns.get(values, "delivery_source"))
            if ref is not None:
                if flag(self.columns.get(values, "official_delivery")):
                    ref.is_official, ref.kind = True, SourceKind.OFFICIAL_STATEMENT
                return ref
        return None


def money(value):
    return decimal(value, empty=EMPTY)


def _category(value):
    raw = " ".join(text(value).split())
    return "" if blank(raw) else raw


def _number(value):
    return f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,}"


def source_ref(value):
    """A cited source from a cell: a URL, or a citation in words ("E-mail from the Ministry of Defence") kept as a
    source without a URL. None for an empty cell."""
    raw = text(value) if isinstance(value, str) else ("" if value in (None, "") else str(value))
    if blank(raw) or raw in ("0", "1"):
        return None
    url = raw
    if url.lower().startswith("www."):
        url = "https://" + url
    if url.lower().startswith(("http://", "https://")):
        url = re.sub(r"\s", "%20", url)  # real rows hold URLs with spaces pasted in
        parts = urlsplit(url)
        host = (parts.hostname or "").removeprefix("www.")
        title = (host + parts.path.rstrip("/"))[:200]  # the document's address reads better than an id
        return SourceRef(url=url[:1000], title=title, publisher=host[:200], kind=SourceKind.PRESS_REPORT)
    return SourceRef(title=" ".join(raw.split())[:500], publisher=f"Cited in the {DATASET}"[:200],
                     kind=SourceKind.OTHER)
