"""What every file format is read into: one PledgeRow per pledge, plus strict cell parsers.

A parser raises CellError with a message for the editor; the format readers attach the column name
and row number, so every bad cell is reported and none stops the others from being checked.
"""
import datetime
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.utils.text import slugify


def unique_slug(name, taken, length=90, fallback="item"):
    """A slug for `name` not in `taken` (a set, which it joins): "france", then "france-2"."""
    base = slugify(name)[:length] or fallback
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


class CellError(ValueError):
    pass


@dataclass
class SourceRef:
    """A cited source as a file gives it: a URL (or the title of a source already in the tracker)."""

    url: str = ""
    title: str = ""
    publisher: str = ""
    is_official: bool = False
    kind: str = "other"

    @property
    def key(self):
        return ("url", self.url) if self.url else ("title", self.title.casefold())


# A status event citing the imported file itself (a dataset's delivery figures that name no other source).
THE_FILE = SourceRef(title="(the imported file)")


@dataclass
class ItemRef:
    """An item line as a file gives it: what, how many pledged (or undisclosed), at what unit price."""

    name: str
    item_type: str = ""
    sub_type: str = ""
    quantity: Decimal | None = None
    undisclosed: bool = False
    unit_price: Decimal | None = None
    unit_price_currency: str = ""


@dataclass
class StatusRef:
    """A status event as a file gives it. `item_units`, if not None, is what it reports delivered of the row's
    items: [(index in PledgeRow.items, units or None, undisclosed)]."""

    status: str
    occurred_on: datetime.date
    source: SourceRef
    delivered_quantity: Decimal | None = None
    delivered_eur: Decimal | None = None
    note: str = ""
    item_units: list | None = None


@dataclass
class PledgeRow:
    line: int
    key: str = ""  # the external id, or "tracker:<id>" for a pledge exported without one
    coalition: str = ""
    nation: str = ""
    nation_code: str = ""
    nation_kind: str = ""  # for a body the tracker does not know yet (empty: a state, found by name or code)
    nation_pass_through: bool | None = None
    fields: dict = field(default_factory=dict)  # Pledge model fields
    objectives: list | None = None  # None: the file does not say, so leave them as they are
    sources: list | None = None
    items: list | None = None  # ItemRefs; None: the file does not say
    events: list = field(default_factory=list)  # StatusRefs, in date order
    errors: list = field(default_factory=list)  # (line, column, message)
    notes: list = field(default_factory=list)  # what an editor should know, e.g. a fallback valuation
    third_party: bool = False  # a dataset's release, imported as it stands (delivery beyond pledge: a note)
    reports_deliveries: bool = False

    def error(self, column, message, line=None):
        error = (line or self.line, column, message)
        if error not in self.errors:
            self.errors.append(error)


@dataclass
class Sheet:
    """What a format reader found in a file: its pledge rows, notes and errors on the file as a whole, and how
    many rows it skipped."""

    rows: list
    notes: list = field(default_factory=list)
    errors: list = field(default_factory=list)  # what stops the whole file (the rows are still checked)
    skipped: int = 0
    columns: dict = field(default_factory=dict)  # model field -> the file's column for it, where the format knows


def parse_cells(row, line, values, parsers):
    """Parse each column the file has; collect every error on the row. Returns {column: parsed value}."""
    parsed = {}
    for column, parse in parsers.items():
        if column not in values:
            continue
        try:
            parsed[column] = parse(values[column])
        except CellError as exc:
            row.error(column, str(exc), line)
    return parsed


def text(value, max_length=None):
    value = "" if value is None else str(value).strip()
    if "\x00" in value:
        raise CellError("contains a NUL byte")
    if max_length and len(value) > max_length:
        raise CellError(f"is {len(value)} characters long; at most {max_length} fit")
    return value


TRUE = {"yes", "y", "true", "1", "x"}
FALSE = {"no", "n", "false", "0", ""}


def boolean(value):
    if isinstance(value, bool):
        return value
    word = text(value).casefold()
    if word in TRUE:
        return True
    if word in FALSE:
        return False
    raise CellError(f"“{value}” is not yes or no")


NUMBER = re.compile(r"^-?([0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?|[0-9]+(\.[0-9]+)?)$")  # ASCII digits only


def decimal(value, empty=("",)):
    """A non-negative number; thousand separators ("35,000,000") allowed. Empty gives None."""
    if isinstance(value, bool):
        raise CellError(f"“{value}” is not a number")
    if isinstance(value, (int, float, Decimal)):
        number = Decimal(str(value))
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16:  # plain digits
        return Decimal(value)
    else:
        raw = text(value)
        if raw.casefold() in empty:
            return None
        compact = raw.replace(" ", "").replace("\u202f", "")
        if not NUMBER.match(compact):
            raise CellError(f"“{raw}” is not a number (write e.g. 1500000 or 1,500,000)")
        try:
            number = Decimal(compact.replace(",", ""))
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid decimals
            raise CellError(f"“{raw}” is not a number") from exc
    if not number.is_finite():
        raise CellError(f"“{value}” is not a finite number")
    if number < 0:
        raise CellError(f"{number} is negative")
    if number >= Decimal("1e16"):
        raise CellError(f"{number} is too large (at most 16 digits before the decimal point)")
    if isinstance(value, float):  # a spreadsheet's binary float: keep the cents it meant
        number = number.quantize(Decimal("0.01"))
    return number


def iso_date(value):
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    raw = text(value)
    if not raw:
        return None
    try:
        if not raw.isascii():
            raise ValueError(raw)
        return datetime.date.fromisoformat(raw)
    except ValueError as exc:
        raise CellError(f"“{raw}” is not a date as YYYY-MM-DD") from exc


def year(value):
    if value in ("", None):
        return None
    raw = text(value)
    if isinstance(value, float) and value.is_integer():
        raw = str(int(value))
    if not re.fullmatch(r"[0-9]{4}", raw) or not 1900 <= int(raw) <= 2200:
        raise CellError(f"“{raw}” is not a year between 1900 and 2200")
    return int(raw)


def choice(choices):
    """Accept a choice's value or its label, in any case: "military" or "Military"."""
    lookup = {}
    for value, label in choices:
        lookup[value.casefold()] = value
        lookup[str(label).casefold()] = value

    def parse(value):
        raw = text(value)
        if not raw:
            return None
        try:
            return lookup[raw.casefold()]
        except KeyError:
            raise CellError(f"“{raw}” is not one of: {', '.join(v for v, _ in choices)}") from None

    return parse


def split_list(value):
    """A cell listing several things: one per line, or (in a single-line cell) separated by semicolons."""
    raw = str(value or "").replace("\r\n", "\n")
    parts = raw.split("\n") if "\n" in raw else raw.split(";")
    return [text(part) for part in parts if part.strip()]


def join_list(values):
    """The cell split_list reads back: one per line (a lone entry containing ";" ends with a line break)."""
    values = [str(v) for v in values]
    joined = "\n".join(values)
    return joined + "\n" if len(values) == 1 and ";" in joined else joined
