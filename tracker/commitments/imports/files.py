"""Spreadsheets in, as rows of cells: CSV (UTF-8 or Windows-1252; comma, semicolon or tab) and XLSX.

Row numbers are the spreadsheet's own (the header is usually row 1), so a report's "line 12" is the
row an editor sees when opening the file, even where a CSV cell spans several physical lines.
"""
import csv
import datetime
import io
import zipfile

from openpyxl import load_workbook

# The header is looked for in the first rows: real releases often open with a title block.
HEADER_SEARCH_ROWS = 20
XLSX_MAGIC = b"PK\x03\x04"


class FileError(Exception):
    """The file as a whole cannot be read (wrong format, no header, missing columns)."""


def column_name(value):
    """A header cell as a name: whitespace and line breaks collapsed, so "Deliveries =\\n (1=yes" matches."""
    return " ".join(str(value or "").split())


def cell(value):
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date() if value.time() == datetime.time() else value
    if isinstance(value, str):
        # Line breaks are kept at the ends: a list cell ending in one is read one entry per line.
        value = value.replace("\xa0", " ").strip(" \t")
        return "" if not value.strip() else value
    return value


class Table:
    """Rows of one sheet under its header. `rows` yields (row number, {column: cell}); with `fold`, column
    names are case-folded (a dataset's later releases may change the case of a header)."""

    def __init__(self, header, rows, header_line, fold=False):
        self.columns, self.headers = {}, {}
        for index, original in enumerate(header):
            original = column_name(original)
            name = original.casefold() if fold else original
            if name and name not in self.columns:  # a repeated header keeps its first column
                self.columns[name] = index
                self.headers[name] = original  # as the file writes it, for reports
        self._rows = rows
        self.header_line = header_line

    def __iter__(self):
        for line, cells in self._rows:
            values = {name: cell(cells[i]) if i < len(cells) else "" for name, i in self.columns.items()}
            if any(value != "" for value in values.values()):
                yield line, values


def read(data, filename, required, fold=False):
    """The first sheet (and header row within it) that has every column in `required`, wherever they stand.
    With `fold`, names are compared case-insensitively."""
    if data[:4] == XLSX_MAGIC or filename.lower().endswith((".xlsx", ".xlsm")):
        sheets = _xlsx_sheets(data)
    else:
        sheets = [_csv_rows(data)]
    best_missing = None
    for rows in sheets:
        rows = iter(rows)
        for line, cells in rows:
            names = {column_name(c).casefold() if fold else column_name(c) for c in cells}
            missing = [name for name in required if (name.casefold() if fold else name) not in names]
            if not missing:
                return Table(cells, rows, line, fold)
            if best_missing is None or len(missing) < len(best_missing):
                best_missing = missing
            if line >= HEADER_SEARCH_ROWS:
                break
    if best_missing is None:
        raise FileError("The file is empty.")
    raise FileError("Missing column(s): " + ", ".join(f"“{name}”" for name in best_missing) + ".")


def _csv_rows(data):
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes almost anything; kept for clarity
        raise FileError("The file is neither UTF-8 nor Windows-1252 text.")
    if "\x00" in text:
        raise FileError("The file is not a CSV text file (it contains NUL bytes); upload CSV or XLSX.")
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        yield from enumerate(reader, start=1)
    except csv.Error as exc:
        raise FileError(f"Line {reader.line_num}: unreadable CSV ({exc}).") from exc


def _xlsx_sheets(data):
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise FileError(f"Not a readable XLSX workbook ({exc.__class__.__name__}).") from exc
    for sheet in workbook.worksheets:
        yield ((number, list(cells)) for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1))
