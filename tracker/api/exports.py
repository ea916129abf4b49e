"""CSV and XLSX downloads (`?format=csv` / `?format=xlsx`) of the same rows the JSON gives.

Cells that a spreadsheet would run as a formula (starting with = + - @ or a control character) are
prefixed with a quote, so a pledge's description can never execute in a reader's spreadsheet.
"""
import csv
import datetime
import io
from decimal import Decimal

from openpyxl import Workbook
from rest_framework import renderers

from tracker.commitments.imports.template import spreadsheet_safe as safe_cell
from tracker.commitments.imports.template import xlsx_text


def flatten(row, prefix=""):
    """One level of nested dicts becomes prefixed columns; lists become "; "-joined text."""
    flat = {}
    for key, value in row.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}_"))
        elif isinstance(value, list):
            flat[prefix + key] = "; ".join(
                str(v.get("id", v)) if isinstance(v, dict) else str(v) for v in value)
        else:
            flat[prefix + key] = value
    return flat


def context(data):
    """What a summary's download says about itself, on every row (a CSV has no other place for it): the date its
    figures stand on, the valuation, the filters, when it was made, and whether the row is example data."""
    if not (isinstance(data, dict) and "grouping" in data and "results" in data):
        return {}
    as_of = data.get("as_of") or "today"
    release = data.get("release")
    return {**({"release": release["number"]} if release else {}),
            "as_of": as_of if as_of != "today" else f"today ({datetime.date.today().isoformat()})",
            "valuation": data.get("valuation", "ecb"),
            "filters": "; ".join(f"{k}={v}" for k, v in (data.get("filters") or {}).items()),
            "generated_at": data.get("generated_at")}


def table(data):
    rows = data.get("results", data) if isinstance(data, dict) else data
    if isinstance(rows, dict):
        rows = [rows]
    about = context(data)
    flat = [{**flatten(row), **about} for row in rows]
    header = list(dict.fromkeys(key for row in flat for key in row))
    return header, flat


def about_sheet(workbook, data):
    """The XLSX's second sheet: what the figures are, as of when, filtered how, and whether they are examples."""
    about = context(data)
    if not about:
        return
    sheet = workbook.create_sheet("about")
    sheet.append(["Coalition commitment tracker: summary " + str(data.get("grouping"))])
    if data.get("includes_example"):
        sheet.append(["EXAMPLE DATA: rows marked example are illustrative, not reported fact. Do not publish them "
                      "as fact."])
    for name, value in about.items():
        sheet.append([name, _xlsx_value(value)])
    for stage, text in (data.get("stages") or {}).items():
        sheet.append([f"stage: {stage}", str(text)])
    sheet.append(["unknown values", "a figure's eur is empty when none of its pledges has a value; not_valued "
                                    "counts the pledges it leaves out. Unknown is never 0."])


class CSVRenderer(renderers.BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if renderer_context and renderer_context["response"].status_code >= 400:
            data = [data] if isinstance(data, dict) else data
        header, rows = table(data)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: safe_cell(value) for key, value in row.items()})
        return out.getvalue().encode("utf-8")


class XLSXRenderer(renderers.BaseRenderer):
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    format = "xlsx"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        header, rows = table(data if isinstance(data, (dict, list)) else {})
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("data")
        sheet.append(header)
        for row in rows:
            sheet.append([_xlsx_value(row.get(key)) for key in header])
        about_sheet(workbook, data)
        out = io.BytesIO()
        workbook.save(out)
        return out.getvalue()


def _xlsx_value(value):
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (datetime.datetime,)):
        return value.replace(tzinfo=None)
    if isinstance(value, (bool, int, float, datetime.date)) or value is None:
        return value
    return xlsx_text(safe_cell(str(value)))


def attach_filename(response, name, fmt):
    if fmt in ("csv", "xlsx"):
        response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response
