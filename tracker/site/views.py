"""Reader pages: published data only, whoever is logged in (staff preview drafts in the admin).

Every total comes from a summary document (commitments/summaries.py), the same one the API serves.
The query string carries the filters and the "as of" date, so any view can be shared as a link.
"""
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt

from tracker.commitments import selectors
from tracker.commitments.models import (
    Coalition,
    Membership,
    Nation,
    NationFigures,
    Objective,
    PledgeKind,
    Source,
    Status,
    StatusEvent,
)

from . import charts
from .query import BadQuery, select

PAGE_SIZE = 50
LISTED = 100  # pledges listed on a nation, objective or source page; the pledge list has them all
DASHBOARD = ["totals", "nation", "objective", "kind", "status", "month"]
PUBLIC_HISTORY_FIELDS = [
    "description", "kind", "quantity", "unit", "quantity_undisclosed", "amount", "currency", "eur_value",
    "valuation_basis", "is_conditional", "condition", "announced_on", "announced_precision", "earmarked_from",
    "earmarked_to", "disclosure", "status", "delivered_quantity", "delivered_eur",
]


def bad_query(request, error):
    return render(request, "site/bad_query.html", {"errors": error.errors}, status=400)


def downloads(selection, groupings):
    """CSV and XLSX links for each summary table: the API's summaries with the same filters and date."""
    links = {}
    for grouping in groupings:
        name = "summary-totals" if grouping == "totals" else f"summary-{grouping}"
        base = reverse(f"api:{name}") + "?" + selection.querystring()
        links[grouping] = {fmt: f"{base}&format={fmt}" for fmt in ("csv", "xlsx")}
    return links


def dashboard(request, slug=None):
    coalition = get_object_or_404(Coalition, slug=slug) if slug else selectors.default_coalition()
    if coalition is None:
        return render(request, "site/empty.html")
    try:
        selection = select(request.GET, coalition=coalition.slug)
    except BadQuery as error:
        return bad_query(request, error)
    version = selectors.data_version()
    documents = {grouping: selection.summary(grouping, version) for grouping in DASHBOARD}
    context = {
        "coalition": coalition,
        "selection": selection,
        "totals": documents["totals"]["results"][0],
        "documents": documents,
        "stages": selectors.STAGE_DEFINITIONS,
        "downloads": downloads(selection, DASHBOARD),
        "charts": [(name, heading) for name, (_, _, heading) in charts.CHARTS.items()],
        "has_example": coalition.is_example or selection.pledges.filter(is_example=True).exists(),
    }
    return render(request, "site/dashboard.html", context)


def nation_detail(request, slug):
    nation = get_object_or_404(Nation, slug=slug)
    try:
        selection = select(request.GET, nation=slug)
    except BadQuery as error:
        return bad_query(request, error)
    version = selectors.data_version()
    pledges = list(selection.pledges.select_related("coalition").order_by("-announced_on", "-id")[:LISTED])
    context = {
        "nation": nation,
        "selection": selection,
        "totals": selection.summary("totals", version)["results"][0],
        "by_kind": selection.summary("kind", version),
        "downloads": downloads(selection, ["totals", "kind"]),
        "pledges": pledges,
        "memberships": Membership.objects.filter(nation=nation, is_disclosed=True).select_related(
            "coalition", "source"),
        "figures": NationFigures.objects.filter(nation=nation).select_related("source").order_by("-year")[:5],
        "has_example": nation.is_example or any(p.is_example for p in pledges),
    }
    return render(request, "site/nation.html", context)


def objective_detail(request, coalition, slug):
    objective = get_object_or_404(Objective.objects.select_related("coalition"), coalition__slug=coalition,
                                  slug=slug)
    try:
        selection = select(request.GET, coalition=coalition, objective=slug)
    except BadQuery as error:
        return bad_query(request, error)
    version = selectors.data_version()
    rows = selection.summary("objective", version)["results"]
    pledges = list(selection.pledges.select_related("nation").order_by("-announced_on", "-id")[:LISTED])
    context = {
        "objective": objective,
        "coalition": objective.coalition,
        "selection": selection,
        "row": next((r for r in rows if r["key"] == slug), None),
        "by_nation": selection.summary("nation", version),
        "downloads": downloads(selection, ["objective", "nation"]),
        "pledges": pledges,
        "lead_nations": objective.lead_nations.all(),
        "has_example": objective.is_example or any(p.is_example for p in pledges),
    }
    return render(request, "site/objective.html", context)


def pledge_list(request):
    try:
        selection = select(request.GET, ignore=["page"])
    except BadQuery as error:
        return bad_query(request, error)
    pledges = selection.pledges.select_related("nation", "coalition").order_by("-announced_on", "-id")
    page = Paginator(pledges, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "selection": selection,
        "page": page,
        "nations": Nation.objects.filter(pledges__publication="published").distinct().order_by("name"),
        "objectives": Objective.objects.filter(pledges__publication="published").distinct()
        .select_related("coalition").order_by("coalition__name", "position", "title"),
        "kinds": PledgeKind.choices,
        "statuses": Status.choices,
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
    changes = []
    for older, newer in zip(records, records[1:], strict=False):
        fields = [(pledge._meta.get_field(name).verbose_name, getattr(older, name), getattr(newer, name))
                  for name in PUBLIC_HISTORY_FIELDS if getattr(older, name) != getattr(newer, name)]
        if fields:
            changes.append((newer.history_date, fields, newer.history_change_reason, newer.history_source))
    first = records[0] if records else None
    return first, changes


def pledge_detail(request, pk):
    pledge = get_object_or_404(
        selectors.published_pledges().select_related("nation", "coalition").prefetch_related("sources",
                                                                                             "objectives"), pk=pk
    )
    events = pledge.status_events.select_related("source").order_by("occurred_on", "id")
    first, changes = _published_history(pledge)
    context = {
        "pledge": pledge,
        "events": events,
        "first_published": first,
        "changes": changes,
        "has_example": pledge.is_example or any(s.is_example for s in pledge.sources.all()),
    }
    return render(request, "site/pledge.html", context)


def source_detail(request, pk):
    source = get_object_or_404(Source, pk=pk)
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
    selection = select(request.GET, coalition=coalition.slug)
    grouping, _, heading = charts.CHARTS[name]
    return coalition, selection, grouping, heading, selection.summary(grouping, selectors.data_version())


def chart_svg(request, slug, name):
    """The chart alone, as an SVG file (for slides, articles, or an <img>)."""
    try:
        coalition, selection, grouping, heading, document = _chart(request, slug, name)
    except BadQuery as error:
        return bad_query(request, error)
    response = HttpResponse(charts.render_svg(name, document), content_type="image/svg+xml")
    response["Content-Disposition"] = f'inline; filename="{coalition.slug}-{name}.svg"'
    return response


@xframe_options_exempt
def chart_embed(request, slug, name):
    """The chart with its data table and a link back, for an <iframe> on another site."""
    try:
        coalition, selection, grouping, heading, document = _chart(request, slug, name)
    except BadQuery as error:
        return bad_query(request, error)
    context = {
        "coalition": coalition, "selection": selection, "name": name, "heading": heading, "document": document,
        "grouping": grouping, "downloads": downloads(selection, [grouping]),
        "svg": charts.render_svg(name, document),
        "page_url": request.build_absolute_uri(reverse("site:coalition", args=[coalition.slug]) + "?"
                                               + urlencode(selection.query)),
    }
    return render(request, "site/embed.html", context)
