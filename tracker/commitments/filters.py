"""What readers may ask of the pledges in a query string, validated once for the API and the pages alike.

Every parameter is checked: an unknown parameter, a value that is not one of the choices, a nation, coalition or
objective the tracker does not have, or a date outside the tracker's range (or after today, for "as of") is an
error naming the parameter, never silently "no filter". Filters on a pledge's state (status, stage,
conditional) read it as of `as_of`, from the pledges' periods (selectors.with_state).
"""
import datetime
import re
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urlencode

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.forms.utils import ErrorDict, ErrorList

from . import selectors
from .models import (
    EARLIEST_DATE,
    LATEST_DATE,
    Coalition,
    Disclosure,
    Nation,
    Objective,
    Pledge,
    PledgeKind,
    Release,
    Status,
)
from .search import HELP as SEARCH_HELP
from .search import search_pledges

BOOLEAN_HELP = "true or false"
DATE_RANGE = f"{EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()}"


class StrictBooleanField(forms.TypedChoiceField):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, choices=[("true", "true"), ("false", "false")], coerce=lambda value: value == "true",
                         **kwargs)


class StrictBooleanFilter(django_filters.BooleanFilter):
    """true or false; anything else (1, yes, True) is an error rather than silently no filter, as django-filter's
    own boolean field would make it."""

    field_class = StrictBooleanField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("help_text", BOOLEAN_HELP)
        super().__init__(*args, **kwargs)


class DayField(forms.DateField):
    """A YYYY-MM-DD date within the tracker's range (and, with `not_after_today`, not in the future)."""

    input_formats = ["%Y-%m-%d"]

    def __init__(self, *args, not_after_today=False, **kwargs):
        self.not_after_today = not_after_today
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        if isinstance(value, str) and value.strip() and not (value.isascii() and len(value.strip()) == 10):
            raise forms.ValidationError("Give a date as YYYY-MM-DD.", code="invalid")
        day = super().to_python(value)
        if day is None:
            return None
        if not EARLIEST_DATE <= day <= LATEST_DATE:
            raise forms.ValidationError(f"Give a date from {EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()}.",
                                        code="date_range")
        if self.not_after_today and day > selectors.today():
            raise forms.ValidationError("%(day)s is after today: figures exist up to today.", code="future",
                                        params={"day": day.isoformat()})
        return day


class DayFilter(django_filters.DateFilter):
    field_class = DayField


class StrictFilterSet(django_filters.FilterSet):
    """Refuses unknown query parameters, naming them, instead of silently ignoring a typo."""

    always_allowed = {"format", "cursor", "page_size", "ordering"}

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.unknown = sorted(set(data) - set(self.filters) - self.always_allowed) if data is not None else []

    def is_valid(self):
        return not self.unknown and super().is_valid()

    @property
    def errors(self):
        errors = ErrorDict(self.form.errors)
        allowed = ", ".join(sorted(set(self.filters) | self.always_allowed))
        for name in self.unknown:
            errors[name] = ErrorList([forms.ValidationError(f"Unknown parameter. Allowed: {allowed}.",
                                                            code="unknown")])
        return errors


class RecordField(forms.CharField):
    """A slug (or code) naming a record the tracker has; cleans to that record."""

    def __init__(self, *args, find=None, noun="record", hint="", **kwargs):
        self.find, self.noun, self.hint = find, noun, hint
        super().__init__(*args, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value in (None, ""):
            return None
        record = self.find(value) if "\x00" not in value else None
        if record is None:  # what the caller typed goes in as a parameter: it may hold a "%"
            raise forms.ValidationError("No %(noun)s “%(value)s”%(hint)s.", code="unknown",
                                        params={"noun": self.noun, "value": value[:100], "hint": self.hint})
        return record


class RecordFilter(django_filters.CharFilter):
    field_class = RecordField


STAGE = "(?:" + "|".join(selectors.STAGES) + ")"
STAGE_LIST = rf"^ *{STAGE} *(?:, *{STAGE} *)*$"  # the OpenAPI document gives this pattern too


class StageField(forms.CharField):
    """One stage, or several separated by commas."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, strip=False, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return []
        if not re.fullmatch(STAGE_LIST, value):
            raise forms.ValidationError("“%(value)s” is not a stage: give announced, committed or delivered.",
                                        code="invalid_choice", params={"value": value[:60]})
        return list(dict.fromkeys(part.strip() for part in value.split(",")))


class StageFilter(django_filters.CharFilter):
    field_class = StageField


def _nation(value):
    match = Q(slug=value) | Q(country=value.upper()) if len(value) == 2 else Q(slug=value)
    return Nation.objects.filter(match).order_by("-country").first()


def updated_since_filter():
    """`updated_since=`: records changed at or after an instant (ISO 8601, e.g. 2026-12-01T09:00:00Z), for clients
    that keep a copy in step. A withdrawn pledge leaves the list instead: the change feed announces it."""
    return django_filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte",
        help_text="only records changed at or after this instant (ISO 8601, e.g. 2026-12-01T09:00:00Z); pledges "
                  "withdrawn since leave the list, and the change feed (/feeds/changes.atom) announces them")


class PledgeFilter(StrictFilterSet):
    nation = RecordFilter(method="filter_nation", find=_nation, noun="nation",
                          hint=": give an ISO code such as GB, or a nation's slug",
                          help_text="ISO 3166-1 code (e.g. GB) or nation slug")
    coalition = RecordFilter(field_name="coalition", find=lambda v: Coalition.objects.filter(slug=v).first(),
                             noun="coalition", hint=": give a coalition's slug", help_text="coalition slug")
    objective = RecordFilter(method="filter_objective", find=lambda v: Objective.objects.filter(slug=v).first(),
                             noun="objective", hint=": give an objective's slug", help_text="objective slug")
    kind = django_filters.ChoiceFilter(choices=PledgeKind.choices)
    status = django_filters.ChoiceFilter(choices=Status.choices, field_name="state_status",
                                         help_text="status, as of `as_of` when given")
    stage = StageFilter(
        method="filter_stage",
        help_text="the pledges a stage's total counts, as of `as_of` when given: announced, committed or delivered, "
                  "or several separated by commas for the pledges at all of them (pass-through bodies are never "
                  "counted)")
    conditional = StrictBooleanFilter(field_name="state_is_conditional",
                                      help_text="true: conditional pledges only; false: firm ones (as of `as_of`)")
    disclosure = django_filters.ChoiceFilter(choices=Disclosure.choices)
    announced_after = DayFilter(field_name="announced_on", lookup_expr="gte",
                                help_text=f"YYYY-MM-DD, inclusive; {DATE_RANGE}")
    announced_before = DayFilter(field_name="announced_on", lookup_expr="lte",
                                 help_text=f"YYYY-MM-DD, inclusive; {DATE_RANGE}")
    as_of = DayFilter(method="filter_nothing", not_after_today=True,
                      help_text=f"YYYY-MM-DD, from {EARLIEST_DATE.isoformat()} and not after today: statuses, "
                                "figures and totals as they stood that day")
    search = django_filters.CharFilter(method="filter_search", help_text=SEARCH_HELP)
    example = StrictBooleanFilter(field_name="is_example", help_text="true: only example data; false: none")
    updated_since = updated_since_filter()
    item = django_filters.CharFilter(method="filter_item",
                                     help_text="pledges with an item line of this sub-type (or type), e.g. "
                                               "Main Battle Tank (MBT)")
    valuation = django_filters.ChoiceFilter(
        choices=[("ecb", "ecb"), ("source", "source")], method="filter_nothing",
        help_text="which EUR value totals add up: ecb (our conversion at the ECB rate of the announcement date, "
                  "the default) or source (the EUR figure the source gives, e.g. the Kiel tracker's own)")

    # Filters on a pledge's state on a day: a timeline applies them to each period instead.
    STATE_FILTERS = {"status", "stage", "conditional"}

    class Meta:
        model = Pledge
        fields = []

    def filter_nation(self, queryset, name, nation):
        return queryset.filter(nation=nation)

    def filter_objective(self, queryset, name, objective):
        # Objective slugs are unique per coalition: the same slug in two coalitions selects both.
        return queryset.filter(objectives__slug=objective.slug)

    def filter_item(self, queryset, name, value):
        from .models import PledgeItem

        with_item = PledgeItem.objects.filter(Q(sub_type=value) | Q(item_type=value)).values("pledge_id")
        return queryset.filter(pk__in=with_item)

    def filter_stage(self, queryset, name, stages):
        for stage in stages:
            queryset = queryset.filter(selectors.stage_q(stage))
        return queryset.filter(selectors.COUNTED)

    def filter_nothing(self, queryset, name, value):
        return queryset  # applied by whoever reads the state (with_state), before filtering on it

    def filter_search(self, queryset, name, value):
        return search_pledges(queryset, value)  # each pledge ranked (search.RANK), best first where listed

    def filter_queryset(self, queryset, skip=()):
        for name, value in self.form.cleaned_data.items():
            if name not in skip:
                queryset = self.filters[name].filter(queryset, value)
        return queryset

    def pledges_in_view(self, queryset):
        """The pledges selected by everything but the state filters (for a timeline, which applies those to each
        period), and the state filters as a Q object over period fields."""
        pledges = self.filter_queryset(queryset, skip=self.STATE_FILTERS)
        data = self.form.cleaned_data
        state = Q()
        if data.get("status"):
            state &= Q(status=data["status"])
        for stage in data.get("stage") or []:
            state &= selectors.stage_q(stage, prefix="") & Q(pledge__nation__is_pass_through=False)
        if data.get("conditional") not in (None, ""):
            state &= Q(is_conditional=data["conditional"])
        return pledges, state


def applied_filters(filterset):
    """{name: value as given} of the filters a valid filterset applies: for links that reproduce it."""
    return {name: filterset.data[name] for name in filterset.filters
            if filterset.form.cleaned_data.get(name) not in (None, "", [])}


def parse_as_of(params):
    """The valid `as_of` date in a query string, or None (an invalid one is reported by PledgeFilter)."""
    if not params.get("as_of"):
        return None
    form = PledgeFilter({"as_of": params["as_of"]}, queryset=Pledge.objects.none()).form
    return form.cleaned_data["as_of"] if form.is_valid() else None


class InvalidQuery(Exception):
    """A query string that cannot be answered; `errors` maps each parameter to what is wrong with it."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


class UnknownRelease(InvalidQuery):
    """`release=<n>` names no release, or one that froze nothing for the rest of the query: nothing to answer."""


RECORD_QUERY = ("as_of", "format")


def check_record_query(params):
    """One pledge is read as of a day (`as_of`) and in a format; any other parameter, or a bad date, is an error
    naming it (raises InvalidQuery)."""
    errors = {name: [f"Unknown parameter. Allowed: {', '.join(RECORD_QUERY)}."]
              for name in params if name not in RECORD_QUERY}
    try:
        DayField(required=False, not_after_today=True).clean(params.get("as_of"))
    except forms.ValidationError as error:
        errors["as_of"] = error.messages
    if errors:
        raise InvalidQuery(errors)


@dataclass
class Selection:
    """The pledges a query string asks for, read as of its date, and what was asked (for links and headers).

    The querysets are built when first used: a summary served from the cache never needs them."""

    base: QuerySet  # the pledges the caller may see
    as_of: datetime.date | None = None
    filters: dict = field(default_factory=dict)  # name -> value as given, as_of and valuation aside
    valuation: str = "ecb"
    filterset: "PledgeFilter | None" = None  # None: nothing to filter on
    release: "Release | None" = None  # a numbered release to answer from (summaries only), instead of today's data

    @cached_property
    def pledges(self):
        """Every filter applied, each pledge with its state on `as_of` (selectors.with_state)."""
        return self.filterset.qs if self.filterset is not None else selectors.with_state(self.base, self.as_of)

    @cached_property
    def _in_view(self):
        if self.filterset is None:
            return self.base, Q()
        return self.filterset.pledges_in_view(self.base)

    @property
    def in_view(self):
        """Every filter but those on state, without state: the pledges a timeline follows."""
        return self._in_view[0]

    @property
    def state(self):
        """The state filters, as a Q object over period fields."""
        return self._in_view[1]

    @property
    def query(self):
        """The filters, valuation and date, as a query-string dict: what every link carries."""
        return {**self.filters, **({"valuation": self.valuation} if self.valuation != "ecb" else {}),
                **({"as_of": self.as_of.isoformat()} if self.as_of else {}),
                **({"release": str(self.release.number)} if self.release else {})}

    def querystring(self, **changes):
        query = {**self.query, **changes}
        return urlencode({k: v for k, v in query.items() if v not in (None, "")})


def pop_release(params):
    """The Release that `release=<n>` names, taken out of `params` (None without one); InvalidQuery otherwise."""
    number = params.get("release")
    params.pop("release", None)
    if number in (None, ""):
        return None
    release = Release.objects.filter(number=number).first() if number.isascii() and number.isdigit() else None
    if release is None:
        latest = selectors.latest_release()
        raise UnknownRelease({"release": [f"No release {number}: "
                                        + (f"releases are numbered 1 to {latest.number}." if latest
                                           else "none has been cut yet.")]})
    return release


def select(params, queryset, releases=False):
    """Validate a query string over `queryset` (the pledges the caller may see). Raises InvalidQuery.

    With `releases` (summaries), `release=<n>` may name a release to answer from instead of today's data."""
    release = None
    if releases and "release" in params:
        params = params.copy()
        release = pop_release(params)
    if not params:  # most reads ask for everything: no filterset to build
        return Selection(queryset, release=release)
    as_of = parse_as_of(params)
    filterset = PledgeFilter(params, queryset=selectors.with_state(queryset, as_of))
    if not filterset.is_valid():
        raise InvalidQuery({name: [str(m) for m in messages] for name, messages in filterset.errors.items()})
    applied = applied_filters(filterset)
    valuation = applied.pop("valuation", "ecb")
    applied.pop("as_of", None)
    return Selection(queryset, as_of, applied, valuation, filterset, release)
