"""CSV and XLSX downloads (`?format=csv` / `?format=xlsx`) of the same rows the JSON gives.

Cells that a spreadsheet would run as a formula (starting with = + - @ or a control character) are
prefixed with a quote, so a pledge's description can never execute in a reader's spreadsheet.
"""
import csv
import datetime
import io
import re
from decimal import Decimal

from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
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


# Column headings of summary downloads in the reader's language (`lang=` on a summary; the reader pages ask for
# their own). JSON keys, and the pledge file's columns (which import back), stay English.
COMMITMENT_WORDS = {"firm": _("firm"), "conditional": _("conditional")}
STAGE_WORDS = {"announced": _("pledged"), "committed": _("committed"), "delivered": _("delivered")}
MEASURE_WORDS = {"eur": _("EUR"), "pledges": _("pledges"), "not_valued": _("not valued"),
                 "pledges_url": _("link to the pledges")}
FIGURE_COLUMN = re.compile(r"^(firm|conditional)_(announced|committed|delivered)_(eur|pledges|not_valued|pledges_url)$")
COLUMN_WORDS = {
    "key": _("key"), "label": _("name"), "pledges": _("pledges"), "pass_through": _("by pass-through funds"),
    "example": _("example data"), "pledges_url": _("link to the pledges"),
    "delivery_gap_eur": _("committed, not yet delivered (EUR)"),
    "delivery_gap_bound": _("committed, not yet delivered: exact, at least, at most or unknown"),
    "extra_code": _("country code"), "extra_kind": _("kind of contributor"), "extra_nations": _("contributors"),
    "extra_is_example": _("example data (record)"), "extra_is_pass_through": _("pass-through fund"),
    "extra_figures_year": _("year of GDP and population"), "extra_figures_source": _("source of GDP and population"),
    "extra_share_of_gdp_percent": _("firm pledged, share of GDP (%)"),
    "extra_eur_per_capita": _("firm pledged per person (EUR)"), "extra_position": _("position"),
    "extra_target_eur": _("target (EUR)"), "extra_target_quantity": _("target (units)"),
    "extra_target_unit": _("target unit"), "extra_shortfall_eur": _("shortfall (EUR)"),
    "extra_coverage_eur_percent": _("coverage by firm pledges, percent of the EUR target"),
    "extra_coverage_eur_complete": _("coverage in EUR complete"),
    "extra_conditional_would_add_eur_percent": _("conditional pledges would add, percent of the EUR target"),
    "extra_coverage_quantity_percent": _("coverage by firm pledges, percent of the target units"),
    "extra_coverage_quantity_complete": _("coverage in units complete"),
    "extra_conditional_would_add_quantity_percent": _("conditional pledges would add, percent of the target units"),
    "extra_units_firm_quantity": _("units, firm"), "extra_units_firm_pledges": _("pledges with units, firm"),
    "extra_units_firm_undisclosed": _("pledges of undisclosed size, firm"),
    "extra_units_conditional_quantity": _("units, conditional"),
    "extra_units_conditional_pledges": _("pledges with units, conditional"),
    "extra_units_conditional_undisclosed": _("pledges of undisclosed size, conditional"),
    "item_type": _("category"), "items": _("item lines"), "units_pledged": _("units pledged"),
    "items_undisclosed": _("item lines of undisclosed size"), "items_not_given": _("item lines with no number"),
    "units_delivered": _("units delivered"), "items_delivered": _("item lines delivered"),
    "items_delivered_undisclosed": _("item lines delivered, size undisclosed"),
    "release": _("release"), "as_of": _("as of"), "valuation": _("valuation"), "filters": _("filters"),
    "generated_at": _("made at"),
}


def headings(header, language=None):
    """The header row: the columns' keys, or with `language` their names in it (a key with no name stays a key)."""
    if not language:
        return header
    with translation.override(language):
        return [str(COLUMN_WORDS[key]) if key in COLUMN_WORDS else _figure_heading(key) for key in header]


def _figure_heading(key):
    found = FIGURE_COLUMN.match(key)
    if not found:
        return key
    commitment, stage, measure = found.groups()
    return gettext("%(stage)s (%(commitment)s): %(measure)s") % {
        "stage": STAGE_WORDS[stage], "commitment": COMMITMENT_WORDS[commitment], "measure": MEASURE_WORDS[measure]}


def column_language(renderer_context):
    """The language a summary view asked its download's headings in (SummaryView: `lang=`), or None."""
    response = (renderer_context or {}).get("response")
    return getattr(response, "column_language", None)


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
        writer.writerow(dict(zip(header, headings(header, column_language(renderer_context)), strict=True)))
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
        sheet.append(headings(header, column_language(renderer_context)))
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
