"""Charts of the summary documents, drawn as SVG on the server by pygal: nothing is loaded by the browser
(pygal's tooltip script, fetched from the internet, is switched off). Each chart sits above a data table."""
import re

import pygal
from pygal.style import Style

STYLE = Style(
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    background="white", plot_background="white", foreground="#1d2433", foreground_strong="#1d2433",
    foreground_subtle="#d9dde5", colors=("#1f5fbf", "#d97c00", "#2e8540", "#6b3fa0", "#8a8f98", "#b3261e"),
    title_font_size=18, label_font_size=12, major_label_font_size=12, legend_font_size=13, value_font_size=11,
)
SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)
MILLION = 1_000_000
TOP = 15  # nations on the ranked chart; the table lists them all


def _millions(value):
    return None if value is None else round(float(value) / MILLION, 1)


def _base(kind, title, **options):
    return kind(style=STYLE, js=[], title=title, width=800, height=420, legend_at_bottom=True,
                truncate_label=30, print_values=False, y_labels_major_count=6, show_minor_y_labels=False,
                stroke_style={"width": 2.5},
                value_formatter=lambda v: "—" if v is None else f"€{v:,.0f}m" if v >= 10 else f"€{v:,.1f}m",
                **options)


def _stages(chart, rows):
    chart.add("Announced", [_millions(r["announced"]["eur"]) for r in rows])
    chart.add("Committed", [_millions(r["committed"]["eur"]) for r in rows])
    chart.add("Delivered", [_millions(r["delivered"]["eur"]) for r in rows])
    return chart


def by_nation(document):
    rows = document["results"][:TOP]
    chart = _base(pygal.HorizontalBar, f"Top {len(rows)} contributors (EUR million)")
    chart.x_labels = [r["label"] for r in rows]
    return _stages(chart, rows)


def by_objective(document):
    rows = document["results"]
    chart = _base(pygal.HorizontalBar, "Objectives: pledged against target (EUR million)")
    chart.x_labels = [r["label"] for r in rows]
    chart.add("Announced", [_millions(r["announced"]["eur"]) for r in rows])
    chart.add("Delivered", [_millions(r["delivered"]["eur"]) for r in rows])
    chart.add("Target", [_millions(r["extra"]["target_eur"]) for r in rows])
    return chart


def by_kind(document):
    rows = document["results"]
    chart = _base(pygal.Bar, "By kind of support (EUR million)")
    chart.x_labels = [r["label"] for r in rows]
    return _stages(chart, rows)


def by_status(document):
    rows = document["results"]
    chart = pygal.Bar(style=STYLE, js=[], title="Pledges by status", width=800, height=420, show_legend=False)
    chart.x_labels = [r["label"] for r in rows]
    most = max([r["pledges"] for r in rows] or [1])
    chart.y_labels = list(range(0, most + 1, max(1, most // 8)))  # whole pledges
    chart.add("Pledges", [r["pledges"] for r in rows])
    return chart


def timeline(document):
    rows = document["results"]
    chart = _base(pygal.Line, "Cumulative totals by month of announcement (EUR million)",
                  x_label_rotation=30, show_minor_x_labels=len(rows) <= 12, fill=False)
    chart.x_labels = [r["key"] for r in rows]
    chart.x_labels_major = [r["key"] for r in rows[::max(1, len(rows) // 12)]]
    for stage in ("announced", "committed", "delivered"):
        chart.add(stage.capitalize(), [_millions(r["extra"][f"cumulative_{stage}_eur"]) for r in rows])
    return chart


# name -> (summary grouping, drawing function, heading)
CHARTS = {
    "nations": ("nation", by_nation, "By contributor"),
    "objectives": ("objective", by_objective, "By objective"),
    "kinds": ("kind", by_kind, "By kind of support"),
    "statuses": ("status", by_status, "By status"),
    "timeline": ("month", timeline, "Over time"),
}


def render_svg(name, document):
    chart = CHARTS[name][1](document)
    if not document["results"]:
        chart.no_data_text = "No published pledges match"
    # pygal always writes its interactive config as an inline <script>; the chart needs none.
    return SCRIPT.sub("", chart.render(is_unicode=True))
