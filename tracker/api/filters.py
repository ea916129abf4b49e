import django_filters
from django.db.models import Q
from rest_framework.exceptions import ValidationError

from tracker.commitments.models import Disclosure, Membership, Objective, Pledge, PledgeKind, Source, Status

BOOLEAN_HELP = "true or false"


class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """true or false; anything else is a 400 rather than silently no filter."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("help_text", BOOLEAN_HELP)
        super().__init__(*args, choices=[("true", "true"), ("false", "false")],
                         coerce=lambda value: value == "true", **kwargs)


class StrictFilterSet(django_filters.FilterSet):
    """Rejects unknown query parameters, naming them, instead of silently ignoring a typo."""

    always_allowed = {"format", "cursor", "page_size", "ordering"}

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        if data is not None:
            unknown = sorted(set(data) - set(self.filters) - self.always_allowed)
            if unknown:
                allowed = ", ".join(sorted(set(self.filters) | self.always_allowed))
                raise ValidationError({name: f"Unknown parameter. Allowed: {allowed}." for name in unknown})


class PledgeFilter(StrictFilterSet):
    nation = django_filters.CharFilter(method="filter_nation", help_text="ISO 3166-1 code (e.g. GB) or nation slug")
    coalition = django_filters.CharFilter(field_name="coalition__slug", help_text="coalition slug")
    objective = django_filters.CharFilter(field_name="objectives__slug", help_text="objective slug")
    kind = django_filters.ChoiceFilter(choices=PledgeKind.choices)
    status = django_filters.ChoiceFilter(choices=Status.choices, field_name="state_status",
                                         help_text="stage, as of `as_of` when given")
    conditional = StrictBooleanFilter(field_name="is_conditional")
    disclosure = django_filters.ChoiceFilter(choices=Disclosure.choices)
    announced_after = django_filters.DateFilter(field_name="announced_on", lookup_expr="gte",
                                                help_text="YYYY-MM-DD, inclusive")
    announced_before = django_filters.DateFilter(field_name="announced_on", lookup_expr="lte",
                                                 help_text="YYYY-MM-DD, inclusive")
    as_of = django_filters.DateFilter(method="filter_nothing",
                                      help_text="YYYY-MM-DD: statuses, deliveries and totals as they stood that day")
    search = django_filters.CharFilter(method="filter_search", help_text="words in description, nation or sources")
    example = StrictBooleanFilter(field_name="is_example", help_text="true: only example data; false: none")

    class Meta:
        model = Pledge
        fields = []

    def filter_nation(self, queryset, name, value):
        return queryset.filter(Q(nation__country=value.upper()) | Q(nation__slug=value))

    def filter_nothing(self, queryset, name, value):
        return queryset  # applied by the view, which needs it before filtering on status

    def filter_search(self, queryset, name, value):
        cited = Source.objects.filter(Q(title__icontains=value) | Q(publisher__icontains=value)
                                      | Q(url__icontains=value)).values("pledges")
        return queryset.filter(Q(description__icontains=value) | Q(nation__name__icontains=value) | Q(pk__in=cited))


def applied_filters(filterset):
    """{name: value as given} of the filters a valid filterset applies: for links that reproduce it."""
    return {name: filterset.data[name] for name in filterset.filters
            if filterset.form.cleaned_data.get(name) not in (None, "")}


def parse_as_of(params):
    """The valid `as_of` date in a query string, or None (an invalid one is reported by PledgeFilter)."""
    if not params.get("as_of"):
        return None
    form = PledgeFilter({"as_of": params["as_of"]}, queryset=Pledge.objects.none()).form
    return form.cleaned_data["as_of"] if form.is_valid() else None


class MembershipFilter(StrictFilterSet):
    coalition = django_filters.CharFilter(field_name="coalition__slug")
    nation = django_filters.CharFilter(field_name="nation__slug")
    role = django_filters.ChoiceFilter(choices=Membership.Role.choices)

    class Meta:
        model = Membership
        fields = []


class ObjectiveFilter(StrictFilterSet):
    coalition = django_filters.CharFilter(field_name="coalition__slug")
    capability_area = django_filters.ChoiceFilter(choices=Objective.Area.choices)

    class Meta:
        model = Objective
        fields = []


class SourceFilter(StrictFilterSet):
    official = StrictBooleanFilter(field_name="is_official")
    kind = django_filters.ChoiceFilter(choices=Source.Kind.choices)
    search = django_filters.CharFilter(method="filter_search")

    class Meta:
        model = Source
        fields = []

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(title__icontains=value) | Q(publisher__icontains=value) | Q(url__icontains=value))


class NoFilter(StrictFilterSet):
    class Meta:
        fields = []
