"""A pledge's state over time is derived in one place (timeline.py) and every figure reads it from there: properties
over random pledges, status events and revisions."""
import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import CoalitionFactory, NationFactory, SourceFactory
from tracker.commitments import selectors, services, timeline
from tracker.commitments.models import Pledge

START = datetime.date(2024, 1, 1)
STATUSES = ["announced", "committed", "allocated", "partially_delivered", "delivered", "stalled", "cancelled"]

days = st.integers(min_value=0, max_value=240).map(lambda n: START + datetime.timedelta(days=n))
money = st.one_of(st.none(), st.integers(min_value=10**6, max_value=10**9).map(Decimal))
delivered = st.one_of(st.none(), st.integers(min_value=0, max_value=10**5).map(Decimal))


@st.composite
def pledge_histories(draw):
    announced = draw(st.one_of(st.none(), days))
    first = announced or START
    event_days = st.integers(min_value=0, max_value=150).map(lambda n: first + datetime.timedelta(days=n))
    events = [SimpleNamespace(pk=index + 1, status=draw(st.sampled_from(STATUSES)), occurred_on=draw(event_days),
                              delivered_eur=draw(delivered), delivered_quantity=None)
              for index in range(draw(st.integers(min_value=0, max_value=4)))]
    revisions = [SimpleNamespace(effective_on=None, amount=draw(money), currency="EUR", eur_value=None,
                                 source_eur_value=draw(money), quantity=None, unit="", quantity_undisclosed=False,
                                 is_conditional=draw(st.booleans()))]
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        revisions.append(SimpleNamespace(**{**vars(revisions[-1]), "effective_on": draw(days),
                                            "amount": draw(money), "is_conditional": draw(st.booleans())}))
    return announced, events, revisions


@given(pledge_histories(), days)
def test_the_period_in_force_on_a_day_holds_that_days_stage_and_figures(history, day):
    announced, events, revisions = history
    found = timeline.periods(announced, events, revisions)
    start = timeline.start_of(announced, events)
    in_force = timeline.state_on(found, day)
    if start is None or day < start:
        assert in_force is None
        return
    assert in_force.stage == timeline.stage_on(events, day)
    assert in_force.figures == timeline.figures_on(revisions, day)
    assert timeline.state_on(found, None).stage == timeline.stage_on(events)  # and the open period is today's


@given(pledge_histories())
def test_periods_follow_one_another_without_gap_or_overlap(history):
    found = timeline.periods(*history)
    for earlier, later in zip(found, found[1:], strict=False):
        assert earlier.valid_to == later.valid_from and earlier.valid_from < earlier.valid_to
        assert (earlier.stage, earlier.figures) != (later.stage, later.figures)  # merged where nothing changes
    assert found[-1].valid_to is None


def _rollback():
    """Each hypothesis example writes through the services in a transaction undone afterwards."""
    class Undo(Exception):
        pass

    class Block:
        def __enter__(self):
            self.atomic = transaction.atomic()
            self.atomic.__enter__()

        def __exit__(self, *exc):
            self.atomic.__exit__(Undo, Undo(), None)
            return exc[0] is None or exc[0] is Undo

    return Block()


@pytest.mark.django_db
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(st.lists(pledge_histories(), min_size=1, max_size=4))
def test_the_timeline_at_each_months_end_equals_the_as_of_totals_that_day(alice, histories):
    with _rollback():
        coalition, nation, source = CoalitionFactory(), NationFactory(), SourceFactory()
        for announced, events, revisions in histories:
            first = revisions[0]
            pledge = services.save_record(Pledge(
                coalition=coalition, nation=nation, kind="military", description="Random pledge",
                amount=first.amount, currency="EUR" if first.amount is not None else "",
                source_eur_value=first.source_eur_value, announced_on=announced,
                is_conditional=first.is_conditional, condition="if" if first.is_conditional else ""), user=alice)
            for revision in revisions[1:]:
                pledge.amount, pledge.is_conditional = revision.amount, revision.is_conditional
                pledge.currency = "EUR" if revision.amount is not None else ""
                pledge.condition = "if" if revision.is_conditional else ""
                services.save_record(pledge, user=alice, reason="Revised", effective_on=revision.effective_on)
            for event in events:
                services.record_status_event(pledge, user=alice, status=event.status, source=source,
                                             occurred_on=max(event.occurred_on, announced or event.occurred_on),
                                             delivered_eur=event.delivered_eur)
        pledges = Pledge.objects.filter(coalition=coalition)
        assert_todays_state_is_the_open_period(pledges)
        end = datetime.date(2025, 3, 15)  # mid-month: the last row stands on this day
        for valuation in ("ecb", "source"):
            for _month, day, running in selectors.timeline_rows(pledges, valuation=valuation, end=end):
                [as_of] = selectors.summarize(selectors.with_state(pledges, day), valuation=valuation)
                for name, value in running.items():
                    assert (value or 0) == (as_of[name] or 0), (day, name, valuation)


def assert_todays_state_is_the_open_period(pledges):
    """Today's figures read each pledge's own columns (selectors.with_state): they must be its open period's."""
    from tracker.commitments.models import PledgePeriod

    for pledge in pledges:
        [open_period] = PledgePeriod.objects.filter(pledge=pledge, valid_to__isnull=True)
        for name in selectors.STATE_FIELDS:
            assert getattr(pledge, name) == getattr(open_period, name), (pledge.pk, name)
