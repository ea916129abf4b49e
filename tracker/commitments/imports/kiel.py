"""The Kiel Institute's Ukraine Support Tracker, main data sheet ("Bilateral Assistance, MAIN DATA").

One activity ID (e.g. AUM3) spans several rows, one per item; the row whose Total_value_dummy is 1 carries
the package's total. Each ID becomes one pledge (external id "kiel:<ID>"): its description is Kiel's
explanation plus the item list; a package of a single item with a number of units keeps that quantity.
The original amount is converted with the tracker's ECB rates, and Kiel's own EUR figure is kept in
source_eur_value for comparison. Where the ECB has no rate (a currency it does not publish, or no date),
Kiel's EUR figure is used instead and the row says so. Each distinct source URL becomes one Source.
"""
import datetime
import re
from urllib.parse import urlsplit

from .. import valuation
from ..models import PledgeKind, SourceKind, Status, Valuation
from . import files
from .rows import CellError, PledgeRow, SourceRef, StatusRef, decimal, text

DATASET = "Kiel Ukraine Support Tracker"
PUBLISHER = "Kiel Institute for the World Economy"
REQUIRED = ("ID", "Countries", "Announcement Date", "Type of Aid General")
PACKAGE_FLAG = "Total_value_dummy (1 is first row in the package)"
SOURCE_COLUMNS = ("Source of Aid 1", "Source of Aid 2", "Source of Aid 3", "Source of Aid 4")

# "." and these words mean "no value" in Kiel's cells.
EMPTY = ("", ".", "-", "n/a", "na", "none", "unknown", "not specified", "not given")
KINDS = {"military": PledgeKind.MILITARY, "financial": PledgeKind.FINANCIAL,
         "humanitarian": PledgeKind.HUMANITARIAN}
VALUATION = {
    "value is given by the source": Valuation.REPORTED,
    "value is calculated with prices": Valuation.ESTIMATED,
    "value is not given at all": Valuation.NOT_VALUED,
}
MONTH_DAY_YEAR = re.compile(r"(?<!\d)(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?!\d)")
MONTH_YEAR = re.compile(r"(?<!\d)(\d{1,2})/(\d{4}|\d{2})(?!\d)")
YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")


def blank(value):
    return value is None or (isinstance(value, str) and value.strip().casefold() in EMPTY)


def _year(digits):
    number = int(digits)
    return number + 2000 if len(digits) == 2 else number


def parse_date(value):
    """Kiel's announcement dates as (date, precision): "3/1/2022" (month/day/year), "until 6/7/2022",
    "unclear, 04/22" or "not specified, 03/22" (a month), "2022" (a year), "." (unknown)."""
    if isinstance(value, datetime.datetime):
        return value.date(), "day"
    if isinstance(value, datetime.date):
        return value, "day"
    raw = text(value)
    if blank(raw):
        return None, "unknown"
    lowered = raw.casefold()
    until = lowered.startswith(("until", "by ", "before"))
    try:
        if match := MONTH_DAY_YEAR.search(raw):
            month, day, year = int(match[1]), int(match[2]), _year(match[3])
            return datetime.date(year, month, day), "until" if until else "day"
        if match := MONTH_YEAR.search(raw):
            first = datetime.date(_year(match[2]), int(match[1]), 1)
            if until:  # "until 6/2022": on or before the month's last day
                last = (first + datetime.timedelta(days=31)).replace(day=1) - datetime.timedelta(days=1)
                return last, "until"
            return first, "month"
        if match := YEAR.fullmatch(raw.strip(" .")) or YEAR.search(raw):
            return datetime.date(int(match[1]), 1, 1), "year"
    except ValueError:
        raise CellError(f"“{raw}” is not a real date (Kiel writes month/day/year)") from None
    if any(word in lowered for word in ("unclear", "not specified", "unknown")):
        return None, "unknown"
    raise CellError(f"“{raw}” is not a date Kiel writes (month/day/year, “until m/d/yyyy” or “mm/yy”)")


def parse_earmarked(value):
    """"2022" or "2022-2023" (also "2022/23") as (first, last) years."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value), int(value)
    raw = text(value)
    if blank(raw):
        return None, None
    if match := re.fullmatch(r"(\d{4})\s*[-–/]\s*(\d{2}|\d{4})", raw):
        first, last = int(match[1]), int(match[2])
        if last < 100:
            last += first // 100 * 100
        return first, last
    if re.fullmatch(r"\d{4}", raw):
        return int(raw), int(raw)
    raise CellError(f"“{raw}” is not a year or a range of years such as 2022-2023")


def units(value):
    """(quantity, undisclosed) from "No. of Units": a number, "undisclosed", or nothing."""
    if not isinstance(value, (int, float)) and text(value).casefold().startswith("undisclosed"):
        return None, True
    try:
        return decimal(value, empty=EMPTY), False
    except CellError:
        return None, False  # free text such as "several": kept in the description, not as a number


def money(value):
    return decimal(value, empty=EMPTY)


def read(data, filename):
    table = files.read(data, filename, REQUIRED)
    packages = {}
    for line, values in table:
        package_id = text(values.get("ID", ""))
        if blank(package_id):
            packages.setdefault(("", line), []).append((line, values))
        else:
            packages.setdefault(package_id, []).append((line, values))
    return [package_row(key, lines) for key, lines in packages.items()]


def _cell(row, line, values, column, parse):
    try:
        return parse(values.get(column, ""))
    except CellError as exc:
        row.error(column, str(exc), line)
        return None


def package_row(package_id, lines):
    """One pledge from the rows of one Kiel ID."""
    first_line, _ = lines[0]
    head_line, head = next(((n, v) for n, v in lines if _is_package_row(v)), lines[0])
    row = PledgeRow(head_line)
    if isinstance(package_id, tuple):
        row.error("ID", "is empty: every Kiel row belongs to an activity ID", first_line)
        return row
    row.key = f"kiel:{package_id}"
    row.nation = text(head.get("Countries", ""))
    if blank(row.nation):
        row.error("Countries", "is empty", head_line)

    kind = KINDS.get(text(head.get("Type of Aid General", "")).casefold())
    if kind is None:
        row.error("Type of Aid General", f"“{head.get('Type of Aid General')}” is not Military, Financial or "
                  "Humanitarian", head_line)
    announced = _cell(row, head_line, head, "Announcement Date", parse_date) or (None, "unknown")
    earmarked = _cell(row, head_line, head, "Earmarked year", parse_earmarked) or (None, None)
    amount = _cell(row, head_line, head, "Total", money)
    if amount is None:
        amount = _cell(row, head_line, head, "Monetary Value as Given by Source", money)
    kiel_eur = _cell(row, head_line, head, "Converted Value in EUR", money)
    currency = text(head.get("Original Currency", "")).upper()
    basis = VALUATION.get(text(head.get("value_source_commitments", "")).casefold(), Valuation.REPORTED)

    items, undisclosed_items = [], 0
    for _line, values in lines:
        item = text(values.get("Items", ""))
        if blank(item):
            continue
        quantity, undisclosed = units(values.get("No. of Units", ""))
        undisclosed_items += undisclosed
        items.append((item, quantity, undisclosed))

    explanation = text(head.get("Explanation", ""))
    specific = " ".join(text(head.get("Type of Aid Specific", "")).split())
    description = explanation if not blank(explanation) else f"{specific or 'Support'} ({package_id})"
    if items:
        listed = "; ".join(
            f"{name} ({'undisclosed' if hidden else _number(qty)})" if hidden or qty is not None else name
            for name, qty, hidden in items)
        description += f"\n\nItems: {listed}."
    fields = {
        "kind": kind, "valuation_basis": basis, "source_eur_value": kiel_eur,
        "announced_on": announced[0], "announced_precision": announced[1],
        "earmarked_from": earmarked[0], "earmarked_to": earmarked[1],
        "is_conditional": False, "quantity": None, "unit": "", "quantity_undisclosed": False,
        "disclosure": "partial" if undisclosed_items else "public",
    }
    if len(items) == 1 and len(items[0][0]) <= 50:
        name, quantity, hidden = items[0]
        if quantity is not None or hidden:
            fields.update(quantity=quantity, unit=name, quantity_undisclosed=hidden)
    description += _value_fields(row, fields, amount, currency, kiel_eur, announced[0], head_line)
    fields["description"] = description
    row.fields = fields

    row.sources = _sources(row, lines, head)
    if announced[0] and row.sources:
        row.status = StatusRef(status=Status.ANNOUNCED, occurred_on=announced[0], source=row.sources[0])
    return row


def _is_package_row(values):
    flag = values.get(PACKAGE_FLAG, "")
    return flag == 1 if isinstance(flag, (int, float)) else text(flag) in ("1", "1.0")


def _number(value):
    return f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,}"


def _value_fields(row, fields, amount, currency, kiel_eur, on, line):
    """Amount and currency, converted with our ECB rates where possible. Returns text for the description."""
    if amount is None:
        fields.update(amount=None, currency="")
        return ""
    if not currency or blank(currency):
        row.error("Original Currency", "is empty but the package has a value", line)
        return ""
    try:
        if on is None and currency != "EUR":
            raise valuation.NoRate("the announcement date is unknown")
        valuation.eur_rate(currency, on)
    except valuation.NoRate as exc:
        original = f"Original value: {currency} {_number(amount)}"
        if kiel_eur is None:
            row.error("Original Currency", f"{exc}, and the row gives no “Converted Value in EUR”", line)
            return ""
        fields.update(amount=kiel_eur, currency="EUR")
        row.notes.append(f"{currency}: no ECB rate ({exc}); valued at Kiel's EUR figure")
        return f"\n\n{original}; valued at Kiel's EUR conversion because the ECB rate is unavailable."
    fields.update(amount=amount, currency=currency)
    return ""


def _sources(row, lines, head):
    official = text(head.get("Official Source", "")).casefold() in ("yes", "1", "true")
    urls = []
    for _line, values in lines:
        for column in SOURCE_COLUMNS:
            value = values.get(column, "")
            url = text(value) if isinstance(value, str) else ""
            if url.lower().startswith("www."):
                url = "https://" + url
            url = re.sub(r"\s", "%20", url)  # real rows hold URLs with spaces pasted in
            if blank(url) or not url.lower().startswith(("http://", "https://")):
                continue
            if url not in urls:
                urls.append(url)
    refs = []
    for index, url in enumerate(urls):
        host = urlsplit(url).hostname or ""
        is_official = official and index == 0
        refs.append(SourceRef(url=url[:1000], title=f"{host.removeprefix('www.')}: {row.key}"[:500],
                              publisher=host.removeprefix("www.")[:200], is_official=is_official,
                              kind=SourceKind.OFFICIAL_STATEMENT if is_official else SourceKind.PRESS_REPORT))
    return refs
