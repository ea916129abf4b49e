"""Charts of the summary documents, drawn as SVG on the server with matplotlib: nothing is loaded by the browser.

Every chart is read like its table: every bar is labelled, bars run in the table's order, statuses in the
pipeline's order, each stage keeps one colour in every chart (the Okabe-Ito palette, safe for colour-blind
readers), value axes step evenly and say their unit, and the chart itself states its date, its filters and
whether it holds example data. A phone gets a layout of its own (narrower, fewer rows, the same type size), not a
shrunken desktop chart. Each bar links to the pledges it sums and shows its figure when hovered.
"""
import io
import re
import textwrap
import xml.etree.ElementTree as ET
from decimal import Decimal

import matplotlib
from django.utils import formats, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from .templatetags.reader import eur, grouped
from .templatetags.reader import pledges_text as pledges

matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: selectable, searchable, readable by screen readers
matplotlib.rcParams["svg.hashsalt"] = "coalition-tracker"  # the same figures give the same file

# One colour per stage in every chart (Okabe-Ito); conditional pledges are hatched in their stage's colour.
COLOURS = {"announced": "#0072B2", "committed": "#E69F00", "delivered": "#009E73", "target": "#555555",
           "pledges": "#56B4E9"}
INK, MUTED, GRID, WARN = "#1d2433", "#545d6e", "#d9dde5", "#8a1c00"
LAYOUTS = {  # width in CSS px, type size in pt, rows shown, characters per label line, value-axis ticks
    "desktop": {"width": 800, "font": 10, "rows": 15, "wrap": 32, "ticks": 6, "left": 0.36},
    "phone": {"width": 380, "font": 10, "rows": 8, "wrap": 17, "ticks": 3, "left": 0.45},
}
PX = 1 / 96  # inches per CSS pixel
PT = 96 / 72  # CSS pixels per point


class Context:
    """What a chart says about itself: its heading, date, filters, example flag, and where its bars link to."""

    def __init__(self, owner="", as_of=None, filters=None, example=False, link=lambda url: url, valuation="ecb",
                 release=None):
        self.owner, self.as_of, self.filters, self.example = owner, as_of, filters or {}, example
        self.release = release
        self.link, self.valuation, self.heading, self.note = link, valuation, "", ""

    def titled(self, heading):
        self.heading = _("%(owner)s: %(heading)s") % {"owner": self.owner, "heading": heading} if self.owner \
            else heading
        self.note = ""

    def subtitle(self):
        if self.release:
            parts = [_("release %(number)s, cut %(day)s") % {
                "number": self.release.number, "day": formats.date_format(self.release.cut_at, "DATE_FORMAT")}]
        elif self.as_of:
            parts = [_("as of %(day)s") % {"day": formats.date_format(self.as_of, "DATE_FORMAT")}]
        else:
            parts = [_("as of today")]
        shown = {k: v for k, v in self.filters.items() if k != "coalition"}
        if shown:
            parts.append(_("filtered: %(filters)s") % {"filters": ", ".join(f"{k} = {v}" for k, v in shown.items())})
        if self.valuation == "source":
            parts.append(_("values as the sources give them in EUR"))
        if self.note:
            parts.append(self.note)
        if self.example:
            parts.append(_("EXAMPLE DATA, NOT FACT"))
        return "; ".join(str(part) for part in parts)


class Canvas:
    """A figure laid out in CSS pixels: the title block on top, the plot, then tick labels and the legend."""

    def __init__(self, context, layout, body_px, legend_rows=0):
        self.size = size = LAYOUTS[layout]
        self.layout, self.context = layout, context
        font = size["font"]
        self.heading = _wrap(context.heading, int(size["width"] / ((font + 3) * PT * 0.6)))
        self.sub = _wrap(context.subtitle(), int(size["width"] / (font * PT * 0.55)))
        self.top = 8 + _lines(self.heading) * (font + 3) * PT * 1.3 + _lines(self.sub) * font * PT * 1.35 + 14
        self.bottom = font * PT * 3.4 + legend_rows * font * PT * 1.6 + 6
        self.height = self.top + body_px + self.bottom
        self.figure = Figure(figsize=(size["width"] * PX, self.height * PX), dpi=96)
        self.figure.text(0.012, 1 - 8 / self.height, self.heading, ha="left", va="top", fontsize=font + 3,
                         fontweight="bold", color=INK, linespacing=1.2)
        self.figure.text(0.012, 1 - (8 + _lines(self.heading) * (font + 3) * PT * 1.3) / self.height, self.sub,
                         ha="left", va="top", fontsize=font, linespacing=1.25,
                         color=WARN if context.example else MUTED, fontweight="bold" if context.example else "normal")

    def axes(self, left=None, right=0.86):
        left = self.size["left"] if left is None else left
        if self.layout == "desktop":
            right = 0.9
        return self.figure.add_axes([left, self.bottom / self.height, right - left,
                                     (self.height - self.top - self.bottom) / self.height])

    def style(self, axes, value_axis="x", unit=None):
        font = self.size["font"]
        axes.tick_params(colors=INK, labelsize=font, length=0)
        axes.grid(axis=value_axis, color=GRID, linewidth=0.8)
        axes.set_axisbelow(True)
        for side in ("top", "right", "left"):
            axes.spines[side].set_visible(False)
        axes.spines["bottom"].set_color(GRID)
        if unit and value_axis == "x":
            axes.set_xlabel(unit, fontsize=font, color=MUTED, loc="right", labelpad=2)

    def legend(self, axes, columns):
        handles, labels = axes.get_legend_handles_labels()
        if handles:
            self.figure.legend(handles, labels, loc="lower left", bbox_to_anchor=(0.01, 0.005), ncol=columns,
                               frameon=False, fontsize=self.size["font"], handlelength=1.6, columnspacing=1.4)


def _lines(text):
    return text.count("\n") + 1


def _wrap(label, width, note=""):
    lines = textwrap.wrap(label, width) or [label]
    if len(lines) > 2:
        lines = [lines[0], textwrap.shorten(" ".join(lines[1:]), width, placeholder="…")]
    if note:
        lines += textwrap.wrap(note, width)
    return "\n".join(lines)


def _scale(values):
    """(divisor, unit word) so the axis reads in millions or billions of euros."""
    top = max([abs(v) for v in values if v is not None] or [0])
    if top >= 5 * 10 ** 9:
        return Decimal(10) ** 9, _("€ billion")
    if top >= 10 ** 6:
        return Decimal(10) ** 6, _("€ million")
    return Decimal(1), "€"


def _value_axis(axis, size, integer=False, percent=False):
    axis.set_major_locator(MaxNLocator(nbins=size["ticks"], steps=[1, 2, 2.5, 5, 10], integer=integer,
                                       min_n_ticks=2))
    def tick(value, position):
        text = grouped(Decimal(str(float(value))), 0 if value == int(value) or percent else 1)
        return _("%(number)s%%") % {"number": text} if percent else text

    axis.set_major_formatter(FuncFormatter(tick))


def _short(value):
    value = Decimal(value)
    if abs(value) >= 10 ** 9:
        return _("€%(amount)s bn") % {"amount": grouped(value / 10 ** 9, 1)}
    if abs(value) >= 10 ** 6:
        return _("€%(amount)s m") % {"amount": grouped(value / 10 ** 6, 1)}
    return eur(value)


def _hover(fig):
    if not fig["pledges"]:
        return pgettext("figure", "none")
    if fig["eur"] is None:
        return _("not valued (%(pledges)s)") % {"pledges": pledges(fig["pledges"])}
    text = _("%(amount)s from %(pledges)s") % {"amount": eur(fig["eur"]),
                                                "pledges": pledges(fig["pledges"] - fig["not_valued"])}
    if fig["not_valued"]:
        text = _("%(text)s; %(count)s more not valued") % {"text": text, "count": fig["not_valued"]}
    return text


def _not_valued(row):
    missing = row["firm"]["announced"]["not_valued"] + row["conditional"]["announced"]["not_valued"]
    return _("+%(count)s not valued") % {"count": missing} if missing else ""


def _end_label(axes, x, y, text, size):
    axes.annotate(text, (x, y), xytext=(3, 0), textcoords="offset points", va="center", ha="left",
                  fontsize=size["font"] - 1, color=INK)


class _Bars:
    """Bars added to a chart, each remembered with its hover text and link for the SVG's <title> and <a>."""

    def __init__(self):
        self.items = []

    def add(self, container, titles, urls, context):
        for index, patch in enumerate(container.patches):
            gid = f"bar-{len(self.items)}"
            patch.set_gid(gid)
            self.items.append((gid, titles[index], context.link(urls[index]) if urls[index] else None))


def _empty(context, layout, text):
    """A chart with nothing to draw says so, under its heading, with no axes or legend to misread."""
    canvas = Canvas(context, layout, 40)
    canvas.figure.text(0.012, (canvas.bottom + 20) / canvas.height, text, ha="left", va="center", color=MUTED,
                       fontsize=canvas.size["font"] + 1)
    return canvas.figure, _Bars()


def _row_height(size, labels):
    return max(_lines(label) for label in labels) * size["font"] * PT * 1.45 + 10 if labels else 0


def _grouped_stages(rows, context, layout, empty_text):
    """Horizontal bars per row: firm pledged, committed and delivered, and conditional pledged (hatched) when any
    row has a conditional pledge. The firm pledged value is written at the end of its bar."""
    rows = [row for row in rows if not row.get("extra", {}).get("is_pass_through")]
    if not rows:
        return _empty(context, layout, empty_text)
    size = LAYOUTS[layout]
    labels = [_wrap(row["label"], size["wrap"], _not_valued(row)) for row in rows]
    series = [("announced", "firm", _("Pledged (firm)")), ("committed", "firm", _("Committed (firm)")),
              ("delivered", "firm", _("Delivered (firm)"))]
    if any(row["conditional"]["announced"]["pledges"] for row in rows):
        series.append(("announced", "conditional", _("Pledged (conditional)")))
    per_row = max(_row_height(size, labels), len(series) * 11 + 12)
    columns = 2 if layout == "desktop" else 1
    canvas = Canvas(context, layout, len(rows) * per_row, legend_rows=-(-len(series) // columns))
    axes = canvas.axes()
    values = [row[c][s]["eur"] for row in rows for s, c, _ in series]
    divisor, unit = _scale([Decimal(v) for v in values if v is not None])
    bars = _Bars()
    height = 0.84 / len(series)
    for index, (stage, commitment, label) in enumerate(series):
        offsets = [p - 0.42 + height * (index + 0.5) for p in range(len(rows))]
        widths = [float(Decimal(row[commitment][stage]["eur"] or 0) / divisor) for row in rows]
        conditional = commitment == "conditional"
        container = axes.barh(offsets, widths, height=height * 0.88, color="white" if conditional else COLOURS[stage],
                              edgecolor=COLOURS[stage], hatch="///" if conditional else None, label=label,
                              linewidth=[1.2 if conditional and w else 0 for w in widths])
        bars.add(container, [f"{row['label']}: {label.lower()} {_hover(row[commitment][stage])}" for row in rows],
                 [row[commitment][stage]["pledges_url"] for row in rows], context)
        if index == 0:
            for offset, width, row in zip(offsets, widths, rows, strict=True):
                figure = row[commitment][stage]
                text = _("not valued") if figure["pledges"] and figure["eur"] is None else (
                    _short(figure["eur"]) if figure["eur"] is not None else "")
                _end_label(axes, width, offset, text, size)
    axes.set_yticks(range(len(rows)), labels)
    axes.set_ylim(len(rows) - 0.5, -0.5)  # the first row of the table on top
    _value_axis(axes.xaxis, size)
    axes.set_xlim(0, max(axes.get_xlim()[1], 1e-9) * 1.18)
    canvas.style(axes, "x", unit)
    canvas.legend(axes, columns)
    return canvas.figure, bars


def by_nation(document, context, layout):
    size = LAYOUTS[layout]
    shown = [r for r in document["results"] if not r["extra"].get("is_pass_through")]
    rows = shown[:size["rows"]]
    context.titled(_("top %(count)s contributors") % {"count": len(rows)} if len(shown) > len(rows)
                   else _("contributors"))
    return _grouped_stages(rows, context, layout, _("No published pledges match."))


def by_kind(document, context, layout):
    return _grouped_stages(document["results"], context, layout, _("No published pledges match."))


def _coverage(row):
    """(firm %, conditional %, label note) of an objective's target, in value or, without a EUR target, in units."""
    extra = row["extra"]
    by_units = extra["target_quantity"] is not None and extra["target_eur"] is None
    share = extra["coverage_quantity_percent" if by_units else "coverage_eur_percent"]
    more = extra["conditional_would_add_quantity_percent" if by_units else "conditional_would_add_eur_percent"]
    complete = extra["coverage_quantity_complete" if by_units else "coverage_eur_complete"]
    if extra["target_quantity"] is None and extra["target_eur"] is None:
        note = _("no target stated")
    elif not row["firm"]["announced"]["pledges"]:
        note = _("no firm pledge")
    elif share is None:
        note = (_("unknown: sizes undisclosed") if by_units and extra["units"]["firm"]["undisclosed"]
                else _("unknown: not valued") if not by_units
                else _("unknown: none in %(unit)s") % {"unit": extra["target_unit"]})
    else:
        values = {"share": grouped(share, 0), "unit": extra["target_unit"]}
        if by_units:
            note = (_("%(share)s%% of the %(unit)s") if complete else _("at least %(share)s%% of the %(unit)s")) \
                % values
        else:
            note = (_("%(share)s%% of the EUR target") if complete else _("at least %(share)s%% of the EUR target")) \
                % values
    return float(share or 0), float(more or 0), note


def by_objective(document, context, layout):
    """How much of each objective's target firm pledges cover, and what conditional ones would add (hatched)."""
    rows = document["results"]
    if not rows:
        return _empty(context, layout, _("No published pledges towards an objective."))
    size = LAYOUTS[layout]
    coverage = [_coverage(row) for row in rows]
    labels = [_wrap(row["label"], size["wrap"], note) for row, (_, _, note) in zip(rows, coverage, strict=True)]
    canvas = Canvas(context, layout, len(rows) * _row_height(size, labels), legend_rows=2 if layout == "desktop"
                    else 3)
    axes = canvas.axes()
    bars = _Bars()
    firm = [c[0] for c in coverage]
    conditional = [c[1] for c in coverage]
    positions = list(range(len(rows)))
    container = axes.barh(positions, firm, height=0.55, color=COLOURS["announced"], label=_("Covered by firm pledges"))
    bars.add(container, [f"{r['label']}: {c[2]}" for r, c in zip(rows, coverage, strict=True)],
             [r["firm"]["announced"]["pledges_url"] for r in rows], context)
    container = axes.barh(positions, conditional, left=firm, height=0.55, color="white",
                          edgecolor=COLOURS["announced"], hatch="///",
                          linewidth=[1.2 if c else 0 for c in conditional], label=_("Conditional pledges would add"))
    bars.add(container, [_("%(label)s: conditional pledges would add %(share)s%% of the target") % {
        "label": r["label"], "share": grouped(c, 0)} for r, c in zip(rows, conditional, strict=True)],
             [r["conditional"]["announced"]["pledges_url"] for r in rows], context)
    axes.axvline(100, color=COLOURS["target"], linewidth=1.5, linestyle="--", label=_("Target (100%)"))
    axes.set_yticks(positions, labels)
    axes.set_ylim(len(rows) - 0.5, -0.5)
    axes.set_xlim(0, max([100, *[f + c for f, c in zip(firm, conditional, strict=True)]]) * 1.08)
    _value_axis(axes.xaxis, size, percent=True)
    canvas.style(axes, "x", _("share of target (%)"))
    canvas.legend(axes, 2 if layout == "desktop" else 1)
    return canvas.figure, bars


def by_status(document, context, layout):
    """Pledges at each status, in the pipeline's order."""
    rows = document["results"]
    if not rows:
        return _empty(context, layout, _("No published pledges match."))
    size = LAYOUTS[layout]
    canvas = Canvas(context, layout, len(rows) * (size["font"] * PT * 1.45 + 12))
    axes = canvas.axes(left=0.3 if layout == "desktop" else 0.42)
    positions = list(range(len(rows)))
    counts = [row["pledges"] for row in rows]
    container = axes.barh(positions, counts, height=0.6, color=COLOURS["pledges"], label=_("Pledges"))
    bars = _Bars()
    bars.add(container, [_("%(label)s: %(pledges)s") % {"label": r["label"], "pledges": pledges(r["pledges"])}
                         for r in rows], [r["pledges_url"] for r in rows], context)
    for position, count in zip(positions, counts, strict=True):
        _end_label(axes, count, position, grouped(count, 0), size)
    axes.set_yticks(positions, [r["label"] for r in rows])
    axes.set_ylim(len(rows) - 0.5, -0.5)
    axes.set_xlim(0, max(counts or [1]) * 1.15)
    _value_axis(axes.xaxis, size, integer=True)
    canvas.style(axes, "x", _("pledges"))
    return canvas.figure, bars


def timeline(document, context, layout):
    """Totals at each month's end: firm pledged, committed and delivered; conditional pledged dashed."""
    rows = document["results"]
    if not rows:
        return _empty(context, layout, _("No dated pledges."))
    size = LAYOUTS[layout]
    series = [("announced", "firm", _("Pledged (firm)"), "-"), ("committed", "firm", _("Committed (firm)"), "-"),
              ("delivered", "firm", _("Delivered (firm)"), "-")]
    if any(r["conditional"]["announced"]["pledges"] for r in rows):
        series.append(("announced", "conditional", _("Pledged (conditional)"), "--"))
    values = [Decimal(r[c][s]["eur"]) for r in rows for s, c, _, _ in series if r[c][s]["eur"] is not None]
    divisor, unit = _scale(values)
    context.heading += f" ({unit})"
    if any(r[c][s]["not_valued"] for r in rows for s, c, _, _ in series):
        context.note = _("lines add the values known; pledges not valued are counted in the table")
    columns = 2 if layout == "desktop" else 1
    canvas = Canvas(context, layout, 280 if layout == "desktop" else 240, legend_rows=-(-len(series) // columns))
    axes = canvas.axes(left=0.09 if layout == "desktop" else 0.15, right=0.95)
    positions = list(range(len(rows)))
    for stage, commitment, label, style in series:
        ys = [float(Decimal(r[commitment][stage]["eur"] or 0) / divisor) for r in rows]
        axes.plot(positions, ys, style, color=COLOURS[stage], linewidth=2.2, label=label, drawstyle="steps-post")
    most = 7 if layout == "desktop" else 3
    step = next((n for n in (1, 2, 3, 6, 12, 24, 36, 60) if len(rows) / n <= most), 120)
    if step <= 12:
        ticks = [i for i, r in enumerate(rows) if (int(r["key"][5:7]) - 1) % step == 0]
    else:
        ticks = [i for i, r in enumerate(rows) if r["key"][5:7] == "01" and int(r["key"][:4]) % (step // 12) == 0]
    axes.set_xticks(ticks, [rows[i]["label"] for i in ticks])
    axes.set_xlim(-0.5, len(rows) - 0.5)
    _value_axis(axes.yaxis, {**size, "ticks": 5})  # the plot is tall enough for five steps on a phone too
    axes.set_ylim(bottom=0)
    canvas.style(axes, "y")
    canvas.legend(axes, columns)
    return canvas.figure, _Bars()


def _units(row, key):
    """Units as a reader should read them: a number, "undisclosed" (never 0), or "none reported"."""
    value = row[key]
    if value is not None:
        return grouped(value, 0)
    if key == "units_pledged":
        return _("undisclosed") if row["items_undisclosed"] else _("not given")
    return _("undisclosed") if row["items_delivered"] else _("none reported")


def by_item(document, context, layout):
    """Units pledged and delivered by item sub-type, each bar with its number."""
    size = LAYOUTS[layout]
    rows = document["results"][:size["rows"]]
    if not rows:
        return _empty(context, layout, _("No item lines."))
    labels = [_wrap(r["label"], size["wrap"], _("+%(count)s undisclosed") % {"count": r["items_undisclosed"]}
                    if r["items_undisclosed"] else "") for r in rows]
    canvas = Canvas(context, layout, len(rows) * max(_row_height(size, labels), 34), legend_rows=1)
    axes = canvas.axes()
    positions = list(range(len(rows)))
    bars = _Bars()
    for offset, key, stage, label in ((-0.2, "units_pledged", "announced", _("Units pledged")),
                                      (0.2, "units_delivered", "delivered", _("Units delivered"))):
        widths = [float(r[key] or 0) for r in rows]
        container = axes.barh([p + offset for p in positions], widths, height=0.36, color=COLOURS[stage],
                              label=label)
        texts = [_units(r, key) for r in rows]
        bars.add(container, [f"{r['label']}: {label.lower()} {text}" for r, text in zip(rows, texts, strict=True)],
                 [r["pledges_url"] for r in rows], context)
        for position, width, text in zip(positions, widths, texts, strict=True):
            _end_label(axes, width, position + offset, text, size)
    axes.set_yticks(positions, labels)
    axes.set_ylim(len(rows) - 0.5, -0.5)
    _value_axis(axes.xaxis, size, integer=True)
    axes.set_xlim(0, max(axes.get_xlim()[1], 1) * 1.18)
    canvas.style(axes, "x", _("units"))
    canvas.legend(axes, 2)
    return canvas.figure, bars


# name -> (summary grouping, drawing function, heading)
CHARTS = {
    "nations": ("nation", by_nation, gettext_lazy("Contributors")),
    "objectives": ("objective", by_objective, gettext_lazy("Objectives: coverage of each target")),
    "kinds": ("kind", by_kind, gettext_lazy("By kind of support")),
    "statuses": ("status", by_status, gettext_lazy("Pledges by status")),
    "timeline": ("month", timeline, gettext_lazy("Totals, month by month")),
    "items": ("item", by_item, gettext_lazy("Equipment: units pledged and delivered")),
}
SVG = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")


def render_svg(name, document, context, layout="desktop"):
    """The chart `name` of a summary document as SVG text, for `layout` ("desktop" or "phone")."""
    _, draw, heading = CHARTS[name]
    heading = str(heading)
    # After the coalition's name: "Coalition X: contributors"; German keeps its nouns' capitals.
    context.titled(heading if translation.get_language().startswith("de") else heading[:1].lower() + heading[1:])
    figure, bars = draw(document, context, layout if layout in LAYOUTS else "desktop")
    FigureCanvasSVG(figure)
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    return _finish(out.getvalue(), bars, context, figure)


def _finish(svg, bars, context, figure):
    """Size in CSS pixels, a title for screen readers, and per bar a hover title and a link."""
    svg = svg[svg.index("<svg"):]
    root = ET.fromstring(svg)
    width, height = figure.get_figwidth() / PX, figure.get_figheight() / PX
    root.set("width", f"{width:.0f}px")
    root.set("height", f"{height:.0f}px")
    root.set("role", "img")
    title = ET.Element(f"{{{SVG}}}title")
    title.text = f"{context.heading} ({context.subtitle()})"
    root.insert(0, title)
    found = {element.get("id"): element for element in root.iter() if element.get("id")}
    parents = {child: parent for parent in root.iter() for child in parent}
    for gid, text, url in bars.items:
        group = found.get(gid)
        if group is None:
            continue
        tooltip = ET.Element(f"{{{SVG}}}title")
        tooltip.text = text
        group.insert(0, tooltip)
        if url:  # the bar links to the pledges it sums (where the SVG is shown inline or opened itself)
            parent = parents[group]
            index = list(parent).index(group)
            parent.remove(group)
            anchor = ET.Element(f"{{{SVG}}}a", {"href": url})
            anchor.append(group)
            parent.insert(index, anchor)
    text = ET.tostring(root, encoding="unicode")
    # Text as text, in the reader's own sans-serif (it was measured in DejaVu Sans, which most systems have).
    return re.sub(r"font-family: ?'?DejaVu Sans'?", "font-family: 'DejaVu Sans', system-ui, sans-serif", text)
