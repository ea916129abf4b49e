"""Reads and totals. Pages, the admin and the API call these, so each figure is computed in one place."""
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum

from .models import Coalition, DataVersion, Pledge, Status

# Stages a total can count, from the loosest to the firmest. "Delivered" sums delivered amounts.
ANNOUNCED_OR_LATER = [s for s in Status if s not in (Status.UNVERIFIED, Status.CANCELLED, Status.SUPERSEDED)]
COMMITTED_OR_LATER = [Status.COMMITTED, Status.ALLOCATED, Status.PARTIALLY_DELIVERED, Status.DELIVERED]


@dataclass(frozen=True)
class PledgeState:
    status: str
    delivered_quantity: Decimal | None
    delivered_eur: Decimal | None


def pledge_state(events, as_of=None):
    """A pledge's status and cumulative deliveries from its status events, optionally as they stood on `as_of`.

    The latest event (by date, then by order of recording) sets the status; delivered figures are the
    latest ones any event reported. With no event the pledge is "unverified": not yet rated.
    """
    state = PledgeState(Status.UNVERIFIED, None, None)
    ordered = sorted(events, key=lambda e: (e.occurred_on, e.pk or 0))
    for event in ordered:
        if as_of is not None and event.occurred_on > as_of:
            break
        state = PledgeState(
            event.status,
            event.delivered_quantity if event.delivered_quantity is not None else state.delivered_quantity,
            event.delivered_eur if event.delivered_eur is not None else state.delivered_eur,
        )
    return state


def visible_pledges(user=None):
    """Pledges a user may see: editors and reviewers see drafts, everyone else only published ones."""
    pledges = Pledge.objects.all()
    if user is None or not user.is_active or not user.has_perm("commitments.view_pledge"):
        pledges = pledges.filter(publication=Pledge.Publication.PUBLISHED)
    return pledges


def published_pledges(coalition=None):
    """What readers may see: published pledges only, everywhere."""
    pledges = Pledge.objects.filter(publication=Pledge.Publication.PUBLISHED)
    return pledges.filter(coalition=coalition) if coalition is not None else pledges


def data_version():
    """(version, changed_at) of the commitment data: any write changes the version."""
    row = DataVersion.objects.filter(pk=1).values_list("version", "changed_at").first()
    return row or (0, None)


def default_coalition():
    return Coalition.objects.order_by("created_at", "id").first()


def coalition_totals(pledges):
    """Headline totals of a pledge queryset in one query. Pass-through bodies are left out (no double count)."""
    counted = pledges.filter(nation__is_pass_through=False)
    return counted.aggregate(
        pledges=Count("id"),
        nations=Count("nation", distinct=True),
        announced_eur=Sum("eur_value", filter=Q(status__in=ANNOUNCED_OR_LATER)),
        committed_eur=Sum("eur_value", filter=Q(status__in=COMMITTED_OR_LATER)),
        delivered_eur=Sum("delivered_eur"),
        firm_eur=Sum("eur_value", filter=Q(status__in=ANNOUNCED_OR_LATER, is_conditional=False)),
        conditional_eur=Sum("eur_value", filter=Q(status__in=ANNOUNCED_OR_LATER, is_conditional=True)),
        conditional_pledges=Count("id", filter=Q(is_conditional=True)),
    )
