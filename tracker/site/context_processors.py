from tracker.commitments import selectors
from tracker.commitments.models import Coalition


def data_updated(request):
    """When the data last changed, for every page's footer. A callable: queried only where a page shows it."""
    return {"data_updated": lambda: selectors.data_version(public=True)[1],
            "latest_release": selectors.latest_release,
            "switcher": lambda: list(Coalition.objects.order_by("name").values("slug", "name"))}
