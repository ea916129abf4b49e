"""What a reader asked for in the query string: filters and an "as of" date, validated like the API's.

Pages read published pledges only, whoever is logged in (staff preview drafts in the admin).
"""
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.urls import reverse
from rest_framework.exceptions import ValidationError

from tracker.api.filters import PledgeFilter, applied_filters, parse_as_of
from tracker.commitments import selectors, summaries


class BadQuery(Exception):
    """A query string the pages cannot answer; `errors` maps each parameter to what is wrong with it."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = {name: " ".join(str(m) for m in (msgs if isinstance(msgs, list) else [msgs]))
                       for name, msgs in errors.items()}


def pledge_list_link(query):
    return reverse("site:pledges") + ("?" + urlencode(query) if query else "")


@dataclass
class Selection:
    """Published pledges narrowed by the reader's filters, with their stage as of `as_of` (or today)."""

    pledges: QuerySet
    as_of: date | None
    filters: dict = field(default_factory=dict)  # name -> value as typed, for links and downloads

    @property
    def query(self):
        """The filters and the date, as a query-string dict: what every link on the page carries."""
        return {**self.filters, **({"as_of": self.as_of.isoformat()} if self.as_of else {})}

    def querystring(self, **changes):
        query = {**self.query, **changes}
        return urlencode({k: v for k, v in query.items() if v not in (None, "")})

    def summary(self, grouping, data_version):
        key = summaries.cache_key(data_version, "site", grouping, "public", sorted(self.query.items()))
        return summaries.cached(key, lambda: summaries.build_summary(
            self.pledges, grouping, self.filters, self.as_of, pledge_list_link))


def select(params, ignore=(), **fixed):
    """Validate the query string (minus `ignore`) with `fixed` filters imposed, or raise BadQuery."""
    params = params.copy()
    for name in ignore:
        params.pop(name, None)
    for name, value in fixed.items():
        params[name] = value
    try:
        as_of = parse_as_of(params)
        filterset = PledgeFilter(params, queryset=selectors.with_state(selectors.published_pledges(), as_of))
    except ValidationError as error:
        raise BadQuery(error.detail) from None
    if not filterset.is_valid():
        raise BadQuery(filterset.errors)
    filters = {k: v for k, v in applied_filters(filterset).items() if k != "as_of"}
    return Selection(filterset.qs, as_of, filters)
