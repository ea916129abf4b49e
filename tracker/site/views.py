"""Reader pages: published data only, whoever is logged in (staff preview drafts in the admin)."""
from django.shortcuts import get_object_or_404, render

from tracker.commitments import selectors


def home(request):
    coalition = selectors.default_coalition()
    pledges = selectors.published_pledges(coalition) if coalition else None
    context = {
        "coalition": coalition,
        "totals": selectors.coalition_totals(pledges) if coalition else None,
        "pledges": pledges.select_related("nation").order_by("nation__name", "id") if coalition else [],
    }
    return render(request, "site/home.html", context)


def pledge_detail(request, pk):
    pledge = get_object_or_404(
        selectors.published_pledges().select_related("nation", "coalition").prefetch_related("sources"), pk=pk
    )
    events = pledge.status_events.select_related("source").order_by("occurred_on", "id")
    return render(request, "site/pledge.html", {"pledge": pledge, "events": events})
