"""The API's filters. Pledge filters are the domain's (commitments/filters.py), shared with the reader pages."""
import django_filters
from django.db.models import Q

from tracker.commitments.filters import (  # noqa: F401 - the API's names for them
    InvalidQuery,
    PledgeFilter,
    StrictBooleanFilter,
    StrictFilterSet,
    applied_filters,
    check_record_query,
    parse_as_of,
    updated_since_filter,
)
from tracker.commitments.models import Membership, Objective, Source


class MembershipFilter(StrictFilterSet):
    updated_since = updated_since_filter()
    coalition = django_filters.CharFilter(field_name="coalition__slug")
    nation = django_filters.CharFilter(field_name="nation__slug")
    role = django_filters.ChoiceFilter(choices=Membership.Role.choices)

    class Meta:
        model = Membership
        fields = []


class ObjectiveFilter(StrictFilterSet):
    updated_since = updated_since_filter()
    coalition = django_filters.CharFilter(field_name="coalition__slug")
    capability_area = django_filters.ChoiceFilter(choices=Objective.Area.choices)

    class Meta:
        model = Objective
        fields = []


class SourceFilter(StrictFilterSet):
    updated_since = updated_since_filter()
    official = StrictBooleanFilter(field_name="is_official")
    kind = django_filters.ChoiceFilter(choices=Source.Kind.choices)
    search = django_filters.CharFilter(method="filter_search")

    class Meta:
        model = Source
        fields = []

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(title__icontains=value) | Q(publisher__icontains=value) | Q(url__icontains=value))


class ChangedSinceFilter(StrictFilterSet):
    """Coalitions and nations: the one filter every list takes."""

    updated_since = updated_since_filter()

    class Meta:
        fields = []
