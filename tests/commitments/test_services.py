import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tests.factories import NationFactory, PledgeFactory, SourceFactory
from tracker.commitments import selectors, services, timeline
from tracker.commitments.models import Pledge, StatusEvent

pytestmark = pytest.mark.django_db
D = datetime.date


def test_every_save_is_kept_with_author_reason_and_source(alice):
    pledge = PledgeFactory()
    source = SourceFactory(title="Defence ministry press release")
    pledge.quantity = Decimal("12")
    services.save_record(pledge, user=alice, reason="Ministry raised the figure", source=source)

    latest = pledge.history.latest()
    assert latest.history_user == alice
    assert latest.history_change_reason == "Ministry raised the figure"
    assert latest.history_source == source
    change = latest.diff_against(latest.prev_record).changes
    assert [(c.field, c.old, c.new) for c in change] == [("quantity", Decimal("10.00"), Decimal("12"))]


def test_invalid_save_is_refused_and_leaves_the_record_as_it_was(alice):
    pledge = PledgeFactory()
    versions = pledge.history.count()
    pledge.currency = "XXY"
    with pytest.raises(ValidationError) as caught:
        services.save_record(pledge, user=alice, reason="typo")
    assert "currency" in caught.value.message_dict
    pledge.refresh_from_db()
    assert pledge.currency == "EUR"
    assert pledge.history.count() == versions


def test_current_status_follows_the_latest_status_event(alice):
    pledge = PledgeFactory()
    source = SourceFactory()
    services.record_status_event(pledge, user=alice, status="announced", occurred_on=D(2025, 3, 3), source=source)
    services.record_status_event(pledge, user=alice, status="partially_delivered", occurred_on=D(2025, 6, 1),
                                 source=source, delivered_quantity=Decimal("4"))
    # recorded later, but dated between the two: it does not become the current status
    services.record_status_event(pledge, user=alice, status="committed", occurred_on=D(2025, 4, 1), source=source)
    pledge.refresh_from_db()
    assert pledge.status == "partially_delivered"
    assert pledge.delivered_quantity == Decimal("4")
    assert pledge.history.latest().history_source == source


def test_status_as_of_a_past_date_is_derived_from_the_events(alice):
    pledge = PledgeFactory()
    source = SourceFactory()
    for status, day, delivered in [("announced", D(2025, 3, 3), None), ("committed", D(2025, 4, 1), None),
                                   ("delivered", D(2025, 9, 1), Decimal("10"))]:
        services.record_status_event(pledge, user=alice, status=status, occurred_on=day, source=source,
                                     delivered_quantity=delivered)
    events = list(pledge.status_events.all())
    assert timeline.stage_on(events, D(2025, 3, 2)).status == "unverified"
    assert timeline.stage_on(events, D(2025, 5, 1)).status == "committed"
    assert timeline.stage_on(events, D(2025, 5, 1)).delivered_quantity is None
    assert timeline.stage_on(events, D(2025, 9, 1)).delivered_quantity == Decimal("10")


def test_status_event_before_the_announcement_is_refused(alice):
    pledge = PledgeFactory(announced_on=D(2025, 3, 3))
    with pytest.raises(ValidationError) as caught:
        services.record_status_event(pledge, user=alice, status="announced", occurred_on=D(2025, 3, 2),
                                     source=SourceFactory())
    assert "occurred_on" in caught.value.message_dict
    assert not StatusEvent.objects.exists()


def test_delivery_beyond_the_pledged_quantity_is_refused(alice):
    pledge = PledgeFactory(quantity=Decimal("10"))
    with pytest.raises(ValidationError) as caught:
        services.record_status_event(pledge, user=alice, status="delivered", occurred_on=D(2025, 5, 1),
                                     source=SourceFactory(), delivered_quantity=Decimal("11"))
    assert "delivered_quantity" in caught.value.message_dict
    pledge.refresh_from_db()
    assert pledge.status == "unverified"


def test_editor_cannot_publish(alice):
    pledge = PledgeFactory()
    pledge.sources.add(SourceFactory())
    with pytest.raises(PermissionDenied):
        services.publish_pledge(pledge, user=alice)
    pledge.refresh_from_db()
    assert pledge.publication == Pledge.Publication.DRAFT


def test_reviewer_publishes_and_unpublishes_with_history(rita):
    pledge = PledgeFactory()
    pledge.sources.add(SourceFactory())
    services.publish_pledge(pledge, user=rita)
    pledge.refresh_from_db()
    assert pledge.is_published and pledge.published_by == rita
    assert list(selectors.published_pledges()) == [pledge]

    services.unpublish_pledge(pledge, user=rita, reason="Figure disputed")
    assert not selectors.published_pledges().exists()
    assert [h.history_change_reason for h in pledge.history.all()[:2]] == ["Figure disputed", "Published"]


def test_publishing_a_pledge_without_a_source_is_refused_with_the_reason(rita):
    pledge = PledgeFactory()
    with pytest.raises(ValidationError, match="at least one source"):
        services.publish_pledge(pledge, user=rita)
    pledge.refresh_from_db()
    assert not pledge.is_published


def test_totals_leave_out_pass_through_bodies_and_split_firm_from_conditional(rita):
    coalition = PledgeFactory().coalition  # a draft pledge: never counted
    epf = NationFactory(kind="fund", country=None, is_pass_through=True)
    firm = PledgeFactory(coalition=coalition, eur_value=Decimal("100"), amount=Decimal("100"))
    conditional = PledgeFactory(coalition=coalition, eur_value=Decimal("40"), amount=Decimal("40"),
                                is_conditional=True, condition="after a ceasefire")
    passed_through = PledgeFactory(coalition=coalition, nation=epf, eur_value=Decimal("999"), amount=Decimal("999"))
    for pledge, status in ((firm, "committed"), (conditional, "announced"), (passed_through, "committed")):
        source = SourceFactory()
        pledge.sources.add(source)
        services.record_status_event(pledge, user=rita, status=status, occurred_on=pledge.announced_on,
                                     source=source)
        services.publish_pledge(pledge, user=rita)

    [totals] = selectors.summarize(selectors.with_state(selectors.published_pledges(coalition)))
    assert (totals["pledges"], totals["pass_through"]) == (3, 1)  # listed, but the EPF's never counted
    assert (totals["firm_announced_eur"], totals["firm_announced_pledges"]) == (Decimal("100"), 1)
    assert totals["firm_committed_eur"] == Decimal("100")
    assert (totals["conditional_announced_eur"], totals["conditional_committed_pledges"]) == (Decimal("40"), 0)
