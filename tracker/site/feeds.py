"""Atom feeds of what readers can see change: publications, corrections, new stages, withdrawals and releases.

One for the whole tracker, one per coalition and one per nation, built with Django's syndication framework and
kept under the public data version (any published change moves it), so a feed reader polling costs no query
beyond the version's."""
import contextvars

from django.contrib.syndication.views import Feed
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from tracker.commitments import selectors, summaries
from tracker.commitments.models import Coalition, Release

_host = contextvars.ContextVar("feed_host", default="localhost")
HEADLINES = {"published": gettext_lazy("published"), "revised": gettext_lazy("revised"),
             "progress": gettext_lazy("new stage"), "withdrawn": gettext_lazy("withdrawn")}


class ChangesFeed(Feed):
    feed_type = Atom1Feed
    scope = "all"  # "coalition" or "nation" in the subclasses

    def __call__(self, request, *args, **kwargs):
        # Entry ids are tag URIs under the site's host name: stable, unique, and never reused for other data.
        token = _host.set(request.get_host().rsplit(":", 1)[0] if "]" not in request.get_host() else "localhost")
        try:
            return super().__call__(request, *args, **kwargs)
        finally:
            _host.reset(token)

    def get_object(self, request, slug=None):
        return None

    def title(self, obj):
        if obj:
            return _("Coalition commitment tracker: changes (%(name)s)") % {"name": obj.name}
        return _("Coalition commitment tracker: changes")

    def subtitle(self, obj):
        return _("Pledges published, corrected, moved to a new stage or withdrawn, and numbered releases, as readers "
                 "see them.")

    def link(self, obj):
        return reverse("site:releases")

    def feed_url(self, obj):
        return reverse("site:feed")

    def items(self, obj):
        version = selectors.data_version(public=True)
        key = summaries.cache_key(version, f"feed|{get_language()}", self.scope, "public",
                                  [("slug", obj.slug if obj else "")])
        return summaries.cached(key, lambda: self.changes(obj))

    def changes(self, obj):
        changes = selectors.public_changes(limit=50)
        releases = [{"change": "release", "when": release.cut_at, "release": release}
                    for release in Release.objects.only("number", "title", "notes", "cut_at", "pledges")
                    .order_by("-number")[:10]]
        return sorted(changes + releases, key=lambda c: c["when"], reverse=True)[:50]

    def item_title(self, item):
        if item["change"] == "release":
            return _("Release %(number)s: %(title)s") % {"number": item["release"].number,
                                                          "title": item["release"].title}
        if item["change"] == "corrected":
            headline = _("corrected (release %(number)s showed the earlier figure)") % {"number": item["corrects"]}
        else:
            headline = HEADLINES[item["change"]]
        return f"{item['nation']}: {headline}: {item['description'][:120]}"

    def item_description(self, item):
        return render_to_string("site/feed_item.html", {"item": item})

    def item_link(self, item):
        if item["change"] == "release":
            return item["release"].get_absolute_url()
        if item["change"] == "withdrawn":
            return reverse("site:nation", args=[item["nation_slug"]])
        return reverse("site:pledge", args=[item["pledge_id"]])

    def item_guid(self, item):
        what = f"release-{item['release'].number}" if item["change"] == "release" else f"change-{item['id']}"
        return f"tag:{_host.get()},2025:{what}"

    item_guid_is_permalink = False

    def item_pubdate(self, item):
        return item["when"]

    def item_updateddate(self, item):
        return item["when"]


class CoalitionChangesFeed(ChangesFeed):
    scope = "coalition"

    def get_object(self, request, slug=None):
        return get_object_or_404(Coalition, slug=slug)

    def link(self, obj):
        return reverse("site:coalition", args=[obj.slug])

    def feed_url(self, obj):
        return reverse("site:coalition-feed", args=[obj.slug])

    def changes(self, obj):
        return selectors.public_changes(coalition=obj, limit=50)


class NationChangesFeed(ChangesFeed):
    scope = "nation"

    def get_object(self, request, slug=None):
        return get_object_or_404(selectors.public_nations(), slug=slug)

    def link(self, obj):
        return reverse("site:nation", args=[obj.slug])

    def feed_url(self, obj):
        return reverse("site:nation-feed", args=[obj.slug])

    def changes(self, obj):
        return selectors.public_changes(nation=obj, limit=50)
