"""What a reader asked for in the query string: filters, valuation and an "as of" date, validated by the
domain's filters (the same the API uses).

Pages read published pledges only, whoever is logged in (staff preview drafts in the admin).
"""
from urllib.parse import urlencode

from django.urls import reverse

from tracker.commitments import selectors, summaries
from tracker.commitments.filters import InvalidQuery
from tracker.commitments.filters import select as select_pledges


class BadQuery(Exception):
    """A query string the pages cannot answer; `errors` maps each parameter to what is wrong with it."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = {name: " ".join(str(m) for m in (msgs if isinstance(msgs, list) else [msgs]))
                       for name, msgs in errors.items()}


def pledge_list_link(query):
    return reverse("site:pledges") + ("?" + urlencode(query) if query else "")


def summary(selection, grouping, data_version, year=None):
    """The summary document for a page, cached under the data version; with `release=<n>`, that release's."""
    if selection.release is not None:
        try:
            return summaries.released(selection, grouping)
        except InvalidQuery as error:
            raise BadQuery(error.errors) from None
    key = summaries.cache_key(data_version, "site", grouping, "public", sorted(selection.query.items()), year)
    return summaries.cached(key, lambda: summaries.build_summary(selection, grouping, pledge_list_link, year))


def select(params, ignore=(), releases=True, **fixed):
    """Validate the query string (minus `ignore`) with `fixed` filters imposed, or raise BadQuery. With
    `releases` (pages of summaries), `release=<n>` may name the release to answer from."""
    params = params.copy()
    for name in ignore:
        params.pop(name, None)
    for name, value in fixed.items():
        params[name] = value
    try:
        selection = select_pledges(params, selectors.published_pledges(), releases=releases)
        summaries.check_frozen(selection)
        return selection
    except InvalidQuery as error:
        raise BadQuery(error.errors) from None
