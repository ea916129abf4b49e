"""Reader pages: published data only, whoever is logged in (staff preview drafts in the admin).

Every total comes from a summary document (commitments/summaries.py), the same one the API serves.
The query string carries the filters and the "as of" date, so any view can be shared as a link.
"""
from urllib.parse import urlencode

from csp.decorators import csp_replace
from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import formats
from django.utils.translation import get_language, gettext, gettext_lazy
from django.views.decorators.clickjacking import xframe_options_exempt

from tracker.commitments import selectors, summaries
from tracker.commitments.filters import InvalidQuery, pop_release
from tracker.commitments.history import LABELS, shown
from tracker.commitments.models import (
    Coalition,
    ItemDelivery,
    Membership,
    Nation,
    NationFigures,
    Objective,
    PledgeKind,
    Release,
    ReleasedPledge,
    Status,
    StatusEvent,
)
from tracker.commitments.search import by_rank

from . import charts
from .query import BadQuery, select, summary

PAGE_SIZE = 50
LISTED = 100  # pledges listed on a nation, objective or source page; the pledge list has them all
DASHBOARD = [grouping for grouping in summaries.GROUPINGS if grouping != "coalition"]  # the page is one coalition's
PUBLIC_HISTORY_FIELDS = [
    "description", "kind", "quantity", "unit", "quantity_undisclosed", "amount", "currency", "eur_value",
    "valuation_basis", "is_conditional", "condition", "announced_on", "announced_precision", "earmarked_from",
    "earmarked_to", "disclosure", "status", "delivered_quantity", "delivered_eur",
]


def bad_query(request, error):
    return render(request, "site/bad_query.html", {"errors": error.errors}, status=400)


def downloads(selection, groupings):
    """CSV and XLSX links for each summary table: the API's summaries with the same filters and date, their column
    headings in the page's language."""
    language = get_language()
    heading = f"&lang={language}" if language != settings.LANGUAGE_CODE else ""
    links = {}
    for grouping in groupings:
        name = "summary-totals" if grouping == "totals" else f"summary-{grouping}"
        base = reverse(f"api:{name}") + "?" + selection.querystring()
        links[grouping] = {fmt: f"{base}&format={fmt}{heading}" for fmt in ("csv", "xlsx")}
    return links


def _has_example(selection, *records, documents=()):
    """Whether a page shows example data: its records', or its pledges' (a release's: its documents' own mark)."""
    if any(getattr(r, "is_example", False) for r in records):
        return True
    if selection.release is not None:
        return any(document.get("includes_example") for document in documents)
    return selection.pledges.filter(is_example=True).exists()


def dashboard(request, slug=None):
    coalition = get_object_or_404(Coalition, slug=slug) if slug else selectors.default_coalition()
    if coalition is None:
        return render(request, "site/empty.html")
    try:
        selection = select(request.GET, coalition=coalition.slug)
    except BadQuery as error:
        return bad_query(request, error)
    version = selectors.data_version(public=True)
    documents = {grouping: summary(selection, grouping, version) for grouping in DASHBOARD}
    context = {
        "coalition": coalition,
        "selection": selection,
        "totals": documents["totals"]["results"][0],
        "undated": documents["totals"].get("undated_pledges", 0),
        "documents": documents,
        "stages": selectors.STAGES,
        "downloads": downloads(selection, DASHBOARD),
        "charts": [(name, heading) for name, (_, _, heading) in charts.CHARTS.items()],
        "has_example": _has_example(selection, coalition, documents=documents.values()),
    }
    return render(request, "site/dashboard.html", context)


def nation_detail(request, slug):
    nation = get_object_or_404(selectors.public_nations(), slug=slug)
    try:
        selection = select(request.GET, nation=slug)
    except BadQuery as error:
        return bad_query(request, error)
    version = selectors.data_version(public=True)
    pledges = list(selection.pledges.select_related("coalition").order_by("-announced_on", "-id")[:LISTED])
    context = {
        "nation": nation,
        "selection": selection,
        "totals": summary(selection, "totals", version)["results"][0],
        "by_kind": summary(selection, "kind", version),
        "by_coalition": summary(selection, "coalition", version),
        "items": summary(selection, "item", version),
        "downloads": downloads(selection, ["totals", "coalition", "kind", "item"]),
        "pledges": pledges,
        "memberships": Membership.objects.filter(nation=nation, is_disclosed=True).select_related(
            "coalition", "source"),
        "figures": NationFigures.objects.filter(nation=nation).select_related("source").order_by("-year")[:5],
        "has_example": nation.is_example or any(p.is_example for p in pledges),
    }
    return render(request, "site/nation.html", context)


def objective_detail(request, coalition, slug):
    objective = get_object_or_404(selectors.public_objectives().select_related("coalition"),
                                  coalition__slug=coalition, slug=slug)
    try:
        selection = select(request.GET, coalition=coalition, objective=slug)
    except BadQuery as error:
        return bad_query(request, error)
    version = selectors.data_version(public=True)
    rows = summary(selection, "objective", version)["results"]
    pledges = list(selection.pledges.select_related("nation").order_by("-announced_on", "-id")[:LISTED])
    context = {
        "objective": objective,
        "coalition": objective.coalition,
        "selection": selection,
        "row": next((r for r in rows if r["key"] == slug), None),
        "by_nation": summary(selection, "nation", version),
        "downloads": downloads(selection, ["objective", "nation"]),
        "pledges": pledges,
        "lead_nations": objective.lead_nations.all(),
        "has_example": objective.is_example or any(p.is_example for p in pledges),
    }
    return render(request, "site/objective.html", context)


def pledge_list(request):
    if "release" in request.GET:
        return bad_query(request, BadQuery({"release": [
            "The pledge list shows today's pledges. A release's pledges are in its dataset, on its page under "
            "Releases."]}))
    try:
        selection = select(request.GET, ignore=["page"], releases=False)
    except BadQuery as error:
        return bad_query(request, error)
    # Searched: best matches first; otherwise (and among equal matches) the latest announced first.
    pledges = by_rank(selection.pledges.select_related("nation", "coalition"), "-announced_on", "-id")
    page = Paginator(pledges, PAGE_SIZE).get_page(request.GET.get("page"))
    value = "state_source_eur_value" if selection.valuation == "source" else "state_eur_value"
    # The list's own sums: what a figure linking here must equal.
    sums = pledges.aggregate(eur=Sum(value), valued=Count(value), delivered=Sum("state_delivered_eur"),
                             delivered_known=Count("state_delivered_eur"), listed=Count("id"))
    sums["not_valued"] = sums["listed"] - sums["valued"]
    context = {
        "selection": selection,
        "page": page,
        "sums": sums,
        "nations": Nation.objects.filter(pledges__publication="published").distinct().order_by("name"),
        "objectives": Objective.objects.filter(pledges__publication="published").distinct()
        .select_related("coalition").order_by("coalition__name", "position", "title"),
        "kinds": PledgeKind.choices,
        "statuses": Status.choices,
        "stages": selectors.STAGES,
        "download": reverse("api:pledge-list") + "?" + selection.querystring(),
        "has_example": any(p.is_example for p in page),
    }
    return render(request, "site/pledge_list.html", context)


def _published_history(pledge):
    """(date, [(field, old, new)], reason, source) for each change made while the pledge was published.

    Changes made while it was a draft are never shown: the first published version is the starting point.
    """
    records = list(pledge.history.filter(publication="published").select_related("history_source")
                   .order_by("history_date", "history_id"))
    released = list(selectors.releases_holding(pledge.pk))
    changes = []
    for older, newer in zip(records, records[1:], strict=False):
        names = [name for name in PUBLIC_HISTORY_FIELDS if getattr(older, name) != getattr(newer, name)]
        if names:
            fields = [(LABELS[field.name], shown(getattr(older, field.name), field),
                       shown(getattr(newer, field.name), field)) for field in map(pledge._meta.get_field, names)]
            # A change to more than progress, after a release showed the pledge, corrects that release.
            corrects = next((r for r in reversed(released) if r.cut_at < newer.history_date), None) \
                if set(names) - ReleasedPledge.PROGRESS else None
            changes.append((newer.history_date, fields, newer.history_change_reason, newer.history_source,
                            corrects))
    first = records[0] if records else None
    return first, changes


def pledge_detail(request, pk):
    pledge = get_object_or_404(
        selectors.published_pledges().select_related("nation", "coalition").prefetch_related("sources",
                                                                                             "objectives"), pk=pk
    )
    events = list(pledge.status_events.select_related("source").order_by("occurred_on", "id"))
    first, changes = _published_history(pledge)
    items = list(pledge.items.order_by("position", "id"))
    latest = {}  # item id -> its latest delivery (events are in date order)
    for delivery in ItemDelivery.objects.filter(item__pledge=pledge).select_related("event").order_by(
            "event__occurred_on", "event_id"):
        latest[delivery.item_id] = delivery
    for item in items:
        item.delivered = latest.get(item.pk)
    difference = (abs(pledge.eur_value - pledge.source_eur_value)
                  if pledge.eur_value is not None and pledge.source_eur_value is not None else None)
    context = {
        "pledge": pledge,
        "items": items,
        "difference": difference,
        "events": events,
        "first_published": first,
        "changes": changes,
        "has_example": pledge.is_example or any(s.is_example for s in pledge.sources.all()),
    }
    return render(request, "site/pledge.html", context)


def source_detail(request, pk):
    source = get_object_or_404(selectors.public_sources(), pk=pk)
    published = selectors.published_pledges()
    context = {
        "source": source,
        "pledges": published.filter(sources=source).select_related("nation").order_by("-announced_on", "-id")
        [:LISTED],
        "events": StatusEvent.objects.filter(source=source, pledge__in=published).select_related(
            "pledge__nation").order_by("-occurred_on", "-id")[:LISTED],
        "memberships": Membership.objects.filter(source=source, is_disclosed=True).select_related(
            "nation", "coalition"),
        "figures": NationFigures.objects.filter(source=source).select_related("nation").order_by("nation__name",
                                                                                                  "-year"),
        "has_example": source.is_example,
    }
    return render(request, "site/source.html", context)


def _chart(request, slug, name):
    if name not in charts.CHARTS:
        raise Http404("No such chart.")
    coalition = get_object_or_404(Coalition, slug=slug)
    selection = select(request.GET.copy(), ignore=["layout"], coalition=coalition.slug)
    grouping, _, heading = charts.CHARTS[name]
    document = summary(selection, grouping, selectors.data_version(public=True))
    return coalition, selection, grouping, heading, document


def _chart_context(request, coalition, selection, heading, document):
    return charts.Context(
        coalition.name, as_of=selection.as_of, filters=selection.filters,
        example=_has_example(selection, coalition, documents=[document]), link=request.build_absolute_uri,
        valuation=selection.valuation,
        release=selection.release)


def chart_svg(request, slug, name):
    """The chart alone, as an SVG file (for slides, articles, or an <img>); ?layout=phone for narrow screens."""
    try:
        coalition, selection, grouping, heading, document = _chart(request, slug, name)
    except BadQuery as error:
        return bad_query(request, error)
    layout = request.GET.get("layout", "desktop")
    if layout not in charts.LAYOUTS:
        return bad_query(request, BadQuery({"layout": ["desktop or phone."]}))
    svg = charts.render_svg(name, document, _chart_context(request, coalition, selection, heading, document), layout)
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Content-Disposition"] = f'inline; filename="{coalition.slug}-{name}.svg"'
    return response


EMBED_FIRST_COLUMN = {"nation": gettext_lazy("Contributor"), "objective": gettext_lazy("Objective"),
                      "kind": gettext_lazy("Kind"), "status": gettext_lazy("Status"), "month": gettext_lazy("Month")}


@xframe_options_exempt
@csp_replace({"frame-ancestors": ["*"]})  # any site may frame it: that is what it is for
def chart_embed(request, slug, name):
    """The chart with its data table and a link back, for an <iframe> on another site."""
    try:
        coalition, selection, grouping, heading, document = _chart(request, slug, name)
    except BadQuery as error:
        return bad_query(request, error)
    chart_context = _chart_context(request, coalition, selection, heading, document)
    embed_url = request.build_absolute_uri(request.get_full_path())
    context = {
        "coalition": coalition, "selection": selection, "name": name, "heading": heading, "document": document,
        "grouping": grouping, "first": EMBED_FIRST_COLUMN.get(grouping),
        "downloads": {k: {f: request.build_absolute_uri(u) for f, u in v.items()}
                                            for k, v in downloads(selection, [grouping]).items()},
        "svg": {layout: charts.render_svg(name, document, chart_context, layout) for layout in charts.LAYOUTS},
        "example": chart_context.example,
        "page_url": request.build_absolute_uri(reverse("site:coalition", args=[coalition.slug]) + "?"
                                               + urlencode(selection.query)),
        "snippet": f'<iframe src="{embed_url}" title="{coalition.name}: {heading}" width="100%" height="640" '
                   'style="border:0" loading="lazy"></iframe>',
        "stylesheet": request.build_absolute_uri(static("site/site.css")),  # the page lives in other sites' frames
    }
    return render(request, "site/embed.html", context)


def methodology(request):
    """How the figures are made: stages, valuation, conditionality, pass-through bodies, sources, releases."""
    return render(request, "site/methodology.html", {"stages": selectors.STAGES})


RELEASE_LISTED = ["number", "title", "notes", "cut_at", "pledges", "includes_example"]  # not its files


def release_list(request):
    """Every numbered release, newest first, with what today's data extends."""
    releases = list(Release.objects.only(*RELEASE_LISTED).order_by("-number"))
    return render(request, "site/releases.html", {"releases": releases})


def citation(request, release):
    """How to cite a release: names the tracker, the release and its date, and a link that keeps answering."""
    return gettext('Coalition commitment tracker, release %(number)s: "%(title)s" (%(day)s). %(url)s') % {
        "number": release.number, "title": release.title, "day": formats.date_format(release.cut_at, "DATE_FORMAT"),
        "url": request.build_absolute_uri(release.get_absolute_url())}


def release_detail(request, number):
    """A release: its notes, a suggested citation, its headline totals and dataset, and its corrections log (what
    changed in published figures since the previous release, or since `?since=<n>`)."""
    release = get_object_or_404(Release.objects.only(*RELEASE_LISTED), number=number)
    try:
        older = pop_release({"release": request.GET["since"]}) if request.GET.get("since") else (
            Release.objects.only(*RELEASE_LISTED).filter(number__lt=number).order_by("-number").first())
    except InvalidQuery as error:
        return bad_query(request, BadQuery({"since": error.errors["release"]}))
    if older is not None and older.number == release.number:
        return bad_query(request, BadQuery({"since": [f"Compare release {number} with another release."]}))
    totals = selectors.release_document(release, "", "totals")
    earlier, later = sorted([release, older], key=lambda r: r.number) if older else (None, release)
    context = {
        "release": release,
        "older": older,
        "earlier": earlier,
        "later": later,
        "changes": selectors.release_changes(later, earlier) if older else None,
        "totals": summaries.thawed(totals)["results"][0] if totals else None,
        "citation": citation(request, release),
        "others": Release.objects.exclude(number=number).order_by("-number").values_list("number", "title"),
        "has_example": release.includes_example,
    }
    return render(request, "site/release.html", context)


DATASET_TYPES = {"csv": "text/csv; charset=utf-8",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def release_dataset(request, number, fmt):
    """The published dataset exactly as the release froze it, in the import template's columns."""
    if fmt not in DATASET_TYPES:
        raise Http404("CSV or XLSX.")
    data = Release.objects.filter(number=number).values_list(f"dataset_{fmt}", flat=True).first()
    if data is None:
        raise Http404("No such release.")
    response = HttpResponse(bytes(data), content_type=DATASET_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="tracker-release-{number}.{fmt}"'
    return response


def coalition_list(request):
    """Every coalition the tracker follows, with its firm figures side by side."""
    try:
        selection = select(request.GET, ignore=["compare"])
    except BadQuery as error:
        return bad_query(request, error)
    document = summary(selection, "coalition", selectors.data_version(public=True))
    rows = {row["key"]: row for row in document["results"]}
    coalitions = list(Coalition.objects.order_by("name"))
    context = {
        "selection": selection,
        "coalitions": [(coalition, rows.get(coalition.slug)) for coalition in coalitions],
        "downloads": downloads(selection, ["coalition"]),
        "has_example": any(c.is_example for c in coalitions) or document["includes_example"],
    }
    return render(request, "site/coalitions.html", context)


COMPARED = 4  # coalitions on one comparison page: more would not fit side by side


def coalition_compare(request):
    """Coalitions side by side (`?coalition=a&coalition=b`, up to four; default: the first four): their firm and
    conditional figures, the contributors they have in common, and how far each one's objectives are covered."""
    slugs = request.GET.getlist("coalition")
    if not slugs:  # the first four, or a release's first four it froze
        number = request.GET.get("release", "")
        release = Release.objects.filter(number=number).first() if number.isascii() and number.isdigit() else None
        slugs = [slug for slug in Coalition.objects.order_by("created_at", "id").values_list("slug", flat=True)
                 if release is None or selectors.release_document_exists(
                     release, summaries.query_key({"coalition": slug}))][:COMPARED]
    found = Coalition.objects.in_bulk(slugs, field_name="slug")
    unknown = [slug for slug in slugs if slug not in found]
    if unknown or not 1 <= len(set(slugs)) <= COMPARED:
        message = f"No coalition {', '.join(unknown)}." if unknown else f"Choose 1 to {COMPARED} coalitions."
        return bad_query(request, BadQuery({"coalition": [message]}))
    coalitions = [found[slug] for slug in dict.fromkeys(slugs)]
    params = request.GET.copy()
    params.pop("coalition", None)
    try:
        selections = {c.slug: select(params, coalition=c.slug) for c in coalitions}
    except BadQuery as error:
        return bad_query(request, error)
    version = selectors.data_version(public=True)
    columns = []
    for coalition in coalitions:
        selection = selections[coalition.slug]
        columns.append({
            "coalition": coalition,
            "totals": summary(selection, "totals", version)["results"][0],
            "nations": {row["key"]: row for row in summary(selection, "nation", version)["results"]},
            "objectives": summary(selection, "objective", version)["results"],
            "querystring": selection.querystring(),
        })
    contributors = {}  # nation slug -> (name, [its row in each coalition, or None])
    for index, column in enumerate(columns):
        for slug, row in column["nations"].items():
            contributors.setdefault(slug, (row["label"], [None] * len(columns)))[1][index] = row
    shared = sorted(((name, rows) for name, rows in contributors.values() if all(rows)), key=lambda c: c[0])
    context = {
        "selection": next(iter(selections.values())),
        "columns": columns,
        "shared": shared,
        "only": [(column, sorted(row["label"] for slug, row in column["nations"].items()
                                 if sum(1 for other in contributors[slug][1] if other) == 1)) for column in columns],
        "all_coalitions": Coalition.objects.order_by("name"),
        "chosen": [c.slug for c in coalitions],
        "has_example": any(c.is_example for c in coalitions) or any(
            summary(s, "totals", version)["includes_example"] for s in selections.values()),
    }
    return render(request, "site/compare.html", context)
