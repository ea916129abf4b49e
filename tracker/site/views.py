"""Reader pages: published data only, whoever is logged in (staff preview drafts in the admin)."""
from django.shortcuts import get_object_or_404, render

from tracker.commitments import selectors

HOME_PLEDGES = 50


def home(request):
    coalition = selectors.default_coalition()
    context = {"coalition": coalition, "totals": None, "pledges": []}
    if coalition:
        pledges = selectors.published_pledges(coalition)
        context["totals"] = selectors.summarize(pledges)
        context["pledges"] = pledges.select_related("nation").order_by("-announced_on", "-id")[:HOME_PLEDGES]
    return render(request, "site/home.html", context)


def pledge_detail(request, pk):
    pledge = get_object_or_404(
        selectors.published_pledges().select_related("nation", "coalition").prefetch_related("sources"), pk=pk
    )
    events = pledge.status_events.select_related("source").order_by("occurred_on", "id")
    return render(request, "site/pledge.html", {"pledge": pledge, "events": events})
