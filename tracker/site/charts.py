"""Charts of the summary documents, drawn as SVG on the server with matplotlib: nothing is loaded by the browser.

Every chart is read like its table: every bar is labelled, bars run in the table's order, statuses in the
pipeline's order, each stage keeps one colour in every chart (the Okabe-Ito palette, safe for colour-blind
readers), value axes step evenly and say their unit, and the chart itself states its date, its filters and
whether it holds example data. A phone gets a layout of its own (narrower, fewer rows, larger type), not a
shrunken desktop chart. Each bar links to the pledges it sums and shows its figure when hovered.
"""
import io
import re
import textwrap
import xml.etree.ElementTree as ET
from decimal import Decimal

import matplotlib
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: selectable, searchable, readable by screen readers
matplotlib.rcParams["svg.hashsalt"] = "coalition-tracker"  # the same figures give the same file

# One colour per stage in every chart (Okabe-Ito); conditional pledges are hatched in their stage's colour.
COLOURS = {"announced": "#0072B2", "committed": "#E69F00", "delivered": "#009E73", "target": "#555555",
           "pledges": "#56B4E9"}
STAGE_LABELS = {"announced": "Pledged", "committed": "Committed", "delivered": "Delivered"}
INK, MUTED, GRID = "#1d2433", "#545d6e", "#d9dde5"
LAYOUTS = {  # width in px, font size in px, rows shown, characters per label line
    "desktop": {"width": 800, "font": 13, "rows": 15, "wrap": 34},
    "phone": {"width": 380, "font": 13, "rows": 8, "wrap": 17},
}
PX = 1 / 96  # inches per CSS pixel


class Context:
    """What a chart says about itself: its heading, date, filters, example flag, and where its bars link to."""

    def __init__(self, owner="", as_of=None, filters=None, example=False, link=lambda url: url, valuation="ecb"):
        self.owner, self.as_of, self.filters, self.example = owner, as_of, filters or {}, example
        self.link, self.valuation, self.heading = link, valuation, ""

    def titled(self, heading):
        self.heading = f"{self.owner}: {heading}" if self.owner else heading

    def subtitle(self):
        parts = [f"as of {self.as_of:%-d %b %Y}" if self.as_of else "as of today"]
        shown = {k: v for k, v in self.filters.items() if k != "coalition"}
        if shown:
            parts.append("filtered: " + ", ".join(f"{k} = {v}" for k, v in shown.items()))
        if self.valuation == "source":
            parts.append("values as the sources give them in EUR")
        return "; ".join(parts)


def _scale(values):
    """(divisor, unit word) so the axis reads in millions or billions of euros."""
    top = max([abs(v) for v in values if v is not None] or [0])
    if top >= 5 * 10 ** 9:
        return Decimal(10) ** 9, "€ billion"
    if top >= 10 ** 6:
        return Decimal(10) ** 6, "€ million"
    return Decimal(1), "€"


def _money_axis(axis, divisor, unit):
    axis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10], min_n_ticks=3))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if divisor > 1 or v >= 1 else f"{v:,.2f}"))


def _figure(layout, rows, extra_height=0):
    size = LAYOUTS[layout]
    row_height = 2.4 * size["font"]
    height = max(240, (180 if size["width"] > 500 else 250) + rows * row_height + extra_height)
    figure = Figure(figsize=(size["width"] * PX, height * PX), dpi=96)
    return figure, size


def _titles(figure, context, size):
    font = size["font"]
    height = figure.get_figheight() / PX
    heading = _wrap(context.heading, int(size["width"] / (font * 0.62)))
    figure.text(0.01, 1 - 4 / height, heading, ha="left", va="top", fontsize=font + 2, fontweight="bold", color=INK)
    lines = heading.count("\n") + 1
    sub = context.subtitle() + (" · EXAMPLE DATA, NOT FACT" if context.example else "")
    figure.text(0.01, 1 - (4 + lines * (font + 2) * 1.35) / height, _wrap(sub, int(size["width"] / (font * 0.55))),
                ha="left", va="top", fontsize=font - 1, color="#8a1c00" if context.example else MUTED,
                fontweight="bold" if context.example else "normal")


def _frame(figure, axes, context, size, unit_label):
    font = size["font"]
    _titles(figure, context, size)
    axes.tick_params(colors=INK, labelsize=font - 1, length=0)
    axes.grid(axis="x" if unit_label else "y", color=GRID, linewidth=0.8)
    axes.set_axisbelow(True)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.spines["bottom"].set_color(GRID)
    if unit_label:
        axes.set_xlabel(unit_label, fontsize=font - 1, color=MUTED, loc="right")


def _wrap(label, width, notes=""):
    lines = textwrap.wrap(label, width) or [label]
    if len(lines) > 2:
        lines = [lines[0], textwrap.shorten(" ".join(lines[1:]), width, placeholder="…")]
    return "\n".join(lines) + (f"\n{notes}" if notes else "")


def _not_valued(row, stages=("announced",)):
    missing = sum(row["firm"][s]["not_valued"] + row["conditional"][s]["not_valued"] for s in stages)
    return f"+{missing} not valued" if missing else ""


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
    figure = Figure(figsize=(LAYOUTS[layout]["width"] * PX, 160 * PX), dpi=96)
    axes = figure.add_axes([0, 0, 1, 0.6])
    axes.set_axis_off()
    axes.text(0.01, 0.5, text, ha="left", va="center", color=MUTED, fontsize=LAYOUTS[layout]["font"] + 1)
    _titles(figure, context, LAYOUTS[layout])
    return figure, _Bars()


def _end_label(axes, x, y, text, size):
    axes.annotate(text, (x, y), xytext=(4, 0), textcoords="offset points", va="center", ha="left",
                  fontsize=size["font"] - 2, color=INK)


def _grouped_stages(rows, context, layout, label_of, empty_text):
    """Horizontal bars per row: firm pledged, committed and delivered, and conditional pledged (hatched) when any
    row has a conditional pledge. The firm pledged value is written at the end of its bar."""
    rows = [row for row in rows if not row.get("extra", {}).get("is_pass_through")]
    if not rows:
        return _empty(context, layout, empty_text)
    series = [("announced", "firm", "Pledged (firm)"), ("committed", "firm", "Committed (firm)"),
              ("delivered", "firm", "Delivered (firm)")]
    if any(row["conditional"]["announced"]["pledges"] for row in rows):
        series.append(("announced", "conditional", "Pledged (conditional)"))
    figure, size = _figure(layout, len(rows) * (len(series) * 0.42 + 0.3) + 1)
    axes = figure.add_axes(_axes_box(figure, size, left=0.40 if layout == "desktop" else 0.40))
    values = [row[c][s]["eur"] for row in rows for s, c, _ in series]
    divisor, unit = _scale([Decimal(v) for v in values if v is not None])
    bars = _Bars()
    height = 0.8 / len(series)
    positions = range(len(rows))
    for index, (stage, commitment, label) in enumerate(series):
        offsets = [p - 0.4 + height * (index + 0.5) for p in positions]
        widths = [float(Decimal(row[commitment][stage]["eur"] or 0) / divisor) for row in rows]
        conditional = commitment == "conditional"
        container = axes.barh(offsets, widths, height=height * 0.9, color="white" if conditional else COLOURS[stage],
                              edgecolor=COLOURS[stage], hatch="///" if conditional else None, label=label,
                              linewidth=[1.2 if conditional and w else 0 for w in widths])
        titles = [f"{row['label']}: {label.lower()} {_hover(row[commitment][stage])}" for row in rows]
        bars.add(container, titles, [row[commitment][stage]["pledges_url"] for row in rows], context)
        if index == 0:
            for offset, width, row in zip(offsets, widths, rows, strict=True):
                figure_ = row[commitment][stage]
                text = "not valued" if figure_["pledges"] and figure_["eur"] is None else (
                    _short(figure_["eur"]) if figure_["eur"] is not None else "")
                _end_label(axes, width, offset, text, size)
    axes.set_yticks(list(positions), [label_of(row) for row in rows])
    axes.invert_yaxis()  # the first row of the table on top
    _money_axis(axes.xaxis, divisor, unit)
    axes.set_xlim(0, max([w for w in axes.get_xlim()[1:]] + [0]) * 1.12 or 1)
    _frame(figure, axes, context, size, unit)
    _legend(figure, axes, size, columns=2 if layout == "desktop" else 1)
    return figure, bars


def _short(value):
    value = Decimal(value)
    for size, word in ((Decimal(10) ** 9, "bn"), (Decimal(10) ** 6, "m")):
        if abs(value) >= size:
            return f"€{value / size:,.1f} {word}"
    return f"€{value:,.0f}"


def _hover(fig):
    if not fig["pledges"]:
        return "none"
    if fig["eur"] is None:
        return f"not valued ({fig['pledges']} pledges)"
    extra = f"; {fig['not_valued']} more not valued" if fig["not_valued"] else ""
    return f"€{Decimal(fig['eur']):,.0f} from {fig['pledges'] - fig['not_valued']} pledges{extra}"


def _axes_box(figure, size, left):
    height_px = figure.get_figheight() / PX
    top = 1 - (size["font"] * (5.2 if size["width"] > 500 else 7.5)) / height_px
    bottom = (size["font"] * (7.5 if size["width"] > 500 else 10)) / height_px
    return [left, bottom, (0.9 if size["width"] > 500 else 0.84) - left, top - bottom]


def _legend(figure, axes, size, columns):
    handles, labels = axes.get_legend_handles_labels()
    if handles:
        figure.legend(handles, labels, loc="lower left", bbox_to_anchor=(0.01, 0.0), ncol=columns, frameon=False,
                      fontsize=size["font"] - 1, handlelength=1.4, columnspacing=1.2)


def by_nation(document, context, layout):
    size = LAYOUTS[layout]
    shown = [r for r in document["results"] if not r["extra"].get("is_pass_through")]
    rows = shown[:size["rows"]]
    context.titled(f"top {len(rows)} contributors" if len(shown) > len(rows) else "contributors")
    return _grouped_stages(rows, context, layout, lambda r: _wrap(r["label"], size["wrap"], _not_valued(r)),
                           "No published pledges match")


def by_kind(document, context, layout):
    size = LAYOUTS[layout]
    return _grouped_stages(document["results"], context, layout,
                           lambda r: _wrap(r["label"], size["wrap"], _not_valued(r)), "No published pledges match")


def by_objective(document, context, layout):
    """How much of each objective's target firm pledges cover, and what conditional ones would add (hatched)."""
    rows = document["results"]
    if not rows:
        return _empty(context, layout, "No published pledges towards an objective.")
    size = LAYOUTS[layout]
    lines = [_wrap(r["label"], size["wrap"], "x").count("\n") + 1 for r in rows]
    figure, size = _figure(layout, sum(lines) * 0.75 + len(rows) * 0.4 + 1)
    axes = figure.add_axes(_axes_box(figure, size, left=0.42 if layout == "desktop" else 0.46))
    bars = _Bars()
    firm, conditional, labels, notes = [], [], [], []
    for row in rows:
        extra = row["extra"]
        by_units = extra["target_quantity"] is not None and extra["target_eur"] is None
        share = extra["coverage_quantity_percent" if by_units else "coverage_eur_percent"]
        more = extra["conditional_would_add_quantity_percent" if by_units else "conditional_would_add_eur_percent"]
        firm.append(float(share or 0))
        conditional.append(float(more or 0))
        complete = extra["coverage_quantity_complete" if by_units else "coverage_eur_complete"]
        if extra["target_quantity"] is None and extra["target_eur"] is None:
            note = "no target stated"
        elif share is None:
            note = "unknown: " + ("number undisclosed" if by_units and extra["units"]["firm"]["undisclosed"]
                                  else "not valued" if not by_units else "no firm pledge in units")
        else:
            note = f"{Decimal(share):,.0f}% of {extra['target_unit'] if by_units else 'the EUR target'}" + (
                "" if complete else ", at least")
        notes.append(note)
        labels.append(_wrap(row["label"], size["wrap"], note))
    positions = list(range(len(rows)))
    container = axes.barh(positions, firm, height=0.6, color=COLOURS["announced"], label="Covered by firm pledges")
    bars.add(container, [f"{r['label']}: {n}" for r, n in zip(rows, notes, strict=True)],
             [r["firm"]["announced"]["pledges_url"] for r in rows], context)
    container = axes.barh(positions, conditional, left=firm, height=0.6, color="white",
                          edgecolor=COLOURS["announced"], hatch="///", linewidth=1.2,
                          label="Conditional pledges would add")
    bars.add(container, [f"{r['label']}: conditional pledges would add "
                         f"{Decimal(c):,.0f}% of the target" for r, c in zip(rows, conditional, strict=True)],
             [r["conditional"]["announced"]["pledges_url"] for r in rows], context)
    axes.axvline(100, color=COLOURS["target"], linewidth=1.5, linestyle="--", label="Target (100%)")
    axes.set_yticks(positions, labels)
    axes.invert_yaxis()
    axes.set_xlim(0, max([100, *[f + c for f, c in zip(firm, conditional, strict=True)]]) * 1.08)
    axes.xaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}%"))
    _frame(figure, axes, context, size, "% of target")
    _legend(figure, axes, size, columns=2 if layout == "desktop" else 1)
    return figure, bars


def by_status(document, context, layout):
    """Pledges at each status, in the pipeline's order."""
    rows = document["results"]
    if not rows:
        return _empty(context, layout, "No published pledges match.")
    figure, size = _figure(layout, len(rows) + 1)
    axes = figure.add_axes(_axes_box(figure, size, left=0.32 if layout == "desktop" else 0.42))
    positions = list(range(len(rows)))
    counts = [row["pledges"] for row in rows]
    container = axes.barh(positions, counts, height=0.6, color=COLOURS["pledges"], label="Pledges")
    bars = _Bars()
    bars.add(container, [f"{r['label']}: {r['pledges']} pledges" for r in rows], [r["pledges_url"] for r in rows],
             context)
    for position, count in zip(positions, counts, strict=True):
        axes.text(count, position, f" {count}", va="center", fontsize=size["font"] - 1, color=INK)
    axes.set_yticks(positions, [r["label"] for r in rows])
    axes.invert_yaxis()
    axes.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True, steps=[1, 2, 5, 10]))
    axes.set_xlim(0, max(counts or [1]) * 1.15)
    _frame(figure, axes, context, size, "pledges")
    return figure, bars


def timeline(document, context, layout):
    """Cumulative totals at each month's end: firm pledged, committed and delivered; conditional pledged dashed."""
    rows = document["results"]
    if not rows:
        return _empty(context, layout, "No dated pledges.")
    size = LAYOUTS[layout]
    figure = Figure(figsize=(size["width"] * PX, (420 if layout == "desktop" else 460) * PX), dpi=96)
    axes = figure.add_axes(_axes_box(figure, size, left=0.09 if layout == "desktop" else 0.16))
    series = [("announced", "firm", "Pledged (firm)", "-"), ("committed", "firm", "Committed (firm)", "-"),
              ("delivered", "firm", "Delivered (firm)", "-")]
    if any(r["conditional"]["announced"]["pledges"] for r in rows):
        series.append(("announced", "conditional", "Pledged (conditional)", "--"))
    values = [Decimal(r[c][s]["eur"]) for r in rows for s, c, _, _ in series if r[c][s]["eur"] is not None]
    divisor, unit = _scale(values)
    positions = list(range(len(rows)))
    for stage, commitment, label, style in series:
        ys = [float(Decimal(r[commitment][stage]["eur"] or 0) / divisor) for r in rows]
        axes.plot(positions, ys, style, color=COLOURS[stage], linewidth=2.2, label=label, drawstyle="steps-post")
    most = 7 if layout == "desktop" else 4
    step = next((n for n in (1, 2, 3, 6, 12, 24, 36, 60) if len(rows) / n <= most), 120)
    ticks = [i for i, r in enumerate(rows) if (int(r["key"][5:7]) - 1) % step == 0] if step <= 12 else \
        [i for i, r in enumerate(rows) if r["key"][5:7] == "01" and int(r["key"][:4]) % (step // 12) == 0]
    axes.set_xticks(ticks, [rows[i]["label"] for i in ticks])
    axes.set_xlim(-0.5, len(rows) - 0.5)
    axes.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10], min_n_ticks=3))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 or v == 0 else f"{v:,.1f}"))
    axes.set_ylim(bottom=0)
    axes.set_ylabel(unit, fontsize=size["font"] - 1, color=MUTED)
    _frame(figure, axes, context, size, None)
    axes.grid(axis="y", color=GRID, linewidth=0.8)
    axes.grid(axis="x", visible=False)
    _legend(figure, axes, size, columns=2)
    return figure, _Bars()


def by_item(document, context, layout):
    """Units pledged and delivered by item sub-type, each bar with its number."""
    size = LAYOUTS[layout]
    rows = document["results"][:size["rows"]]
    if not rows:
        return _empty(context, layout, "No item lines.")
    figure, size = _figure(layout, len(rows) * 1.3 + 1)
    axes = figure.add_axes(_axes_box(figure, size, left=0.44 if layout == "desktop" else 0.48))
    positions = list(range(len(rows)))
    bars = _Bars()
    for offset, key, stage, label in ((-0.19, "units_pledged", "announced", "Units pledged"),
                                      (0.19, "units_delivered", "delivered", "Units delivered")):
        widths = [float(r[key] or 0) for r in rows]
        container = axes.barh([p + offset for p in positions], widths, height=0.36, color=COLOURS[stage],
                              label=label)
        bars.add(container, [f"{r['label']}: {label.lower()} {_units(r[key])}" for r in rows],
                 [r["pledges_url"] for r in rows], context)
        for position, width, row in zip(positions, widths, rows, strict=True):
            _end_label(axes, width, position + offset, _units(row[key]), size)
    hidden = lambda r: f"+{r['items_undisclosed']} undisclosed" if r["items_undisclosed"] else ""  # noqa: E731
    axes.set_yticks(positions, [_wrap(r["label"], size["wrap"], hidden(r)) for r in rows])
    axes.invert_yaxis()
    axes.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True, steps=[1, 2, 2.5, 5, 10]))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    axes.set_xlim(0, axes.get_xlim()[1] * 1.15)
    _frame(figure, axes, context, size, "units")
    _legend(figure, axes, size, columns=2)
    return figure, bars


def _units(value):
    return "not given" if value is None else f"{Decimal(value):,.0f}"


# name -> (summary grouping, drawing function, heading)
CHARTS = {
    "nations": ("nation", by_nation, "Contributors"),
    "objectives": ("objective", by_objective, "Objectives: coverage of each target"),
    "kinds": ("kind", by_kind, "By kind of support"),
    "statuses": ("status", by_status, "Pledges by status"),
    "timeline": ("month", timeline, "Cumulative totals, month by month"),
    "items": ("item", by_item, "Equipment: units pledged and delivered"),
}
SVG = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")


def render_svg(name, document, context, layout="desktop"):
    """The chart `name` of a summary document as SVG text, for `layout` ("desktop" or "phone")."""
    _, draw, heading = CHARTS[name]
    context.titled(heading[:1].lower() + heading[1:])
    figure, bars = draw(document, context, layout if layout in LAYOUTS else "desktop")
    FigureCanvasSVG(figure)
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    return _finish(out.getvalue(), bars, context, figure)


def _finish(svg, bars, context, figure):
    """Size in CSS pixels, a title and description for screen readers, and per bar a hover title and a link."""
    svg = svg[svg.index("<svg"):]
    root = ET.fromstring(svg)
    width, height = figure.get_figwidth() / PX, figure.get_figheight() / PX
    root.set("width", f"{width:.0f}px")
    root.set("height", f"{height:.0f}px")
    root.set("role", "img")
    title = ET.Element(f"{{{SVG}}}title")
    title.text = f"{context.heading} ({context.subtitle()})" + (" Example data, not fact." if context.example else "")
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
