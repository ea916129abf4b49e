"""Invariants hold in the database itself, not only in forms: a bypassing write is refused."""
import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tests.factories import NationFactory, ObjectiveFactory, PledgeFactory, SourceFactory, StatusEventFactory
from tracker.commitments.models import Nation, Pledge, StatusEvent

pytestmark = pytest.mark.django_db


def refused_by_database(queryset, **values):
    with pytest.raises(IntegrityError), transaction.atomic():
        queryset.update(**values)


@pytest.mark.parametrize(
    "values",
    [
        {"quantity": Decimal("-1")},
        {"amount": Decimal("-5")},
        {"quantity_undisclosed": True},  # while a quantity is given
        {"unit": ""},  # a quantity without its unit
        {"currency": ""},  # an amount without its currency
        {"is_conditional": True, "condition": ""},
        {"earmarked_from": 2025, "earmarked_to": 2024},
        {"status": "rumoured"},
        {"publication": "published"},  # without a publication timestamp
        {"kind": "spiritual"},
        {"eur_rate": Decimal("0")},
    ],
    ids=lambda values: ",".join(values),
)
def test_database_refuses_impossible_pledges(values):
    pledge = PledgeFactory()
    refused_by_database(Pledge.objects.filter(pk=pledge.pk), **values)
    pledge.refresh_from_db()
    assert pledge.quantity == Decimal("10") and pledge.amount == Decimal("1000000")


def test_database_refuses_a_state_without_country_code():
    nation = NationFactory()
    refused_by_database(Nation.objects.filter(pk=nation.pk), country=None)


def test_bodies_need_no_country_code():
    body = Nation(name="European Peace Facility", slug="epf", kind=Nation.Kind.FUND, is_pass_through=True)
    body.full_clean()
    body.save()


def test_two_sources_cannot_share_a_url_but_many_may_have_none():
    SourceFactory(url="https://gov.example/a")
    with pytest.raises(IntegrityError), transaction.atomic():
        SourceFactory(url="https://gov.example/a")
    SourceFactory(url="", publisher="Parliament")
    SourceFactory(url="", publisher="Parliament")


def test_objective_target_quantity_needs_a_unit():
    objective = ObjectiveFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        type(objective).objects.filter(pk=objective.pk).update(target_quantity=5, target_unit="")


def test_undisclosed_quantity_with_a_number_is_a_field_error():
    pledge = PledgeFactory.build(quantity=Decimal("5"), quantity_undisclosed=True,
                                 coalition=PledgeFactory().coalition, nation=NationFactory())
    with pytest.raises(ValidationError) as caught:
        pledge.full_clean()
    assert "quantity" in caught.value.message_dict


def test_clean_values_a_gbp_pledge_at_the_announcement_days_rate():
    pledge = PledgeFactory.build(amount=Decimal("1000"), currency="GBP", announced_on=datetime.date(2025, 3, 2),
                                 coalition=PledgeFactory().coalition, nation=NationFactory())
    pledge.full_clean()
    assert pledge.eur_rate == Decimal("0.82608")
    assert pledge.eur_rate_date == datetime.date(2025, 2, 28)
    assert pledge.eur_value == Decimal("1210.54")


def test_unknown_currency_is_a_field_error_on_currency():
    pledge = PledgeFactory.build(currency="ABC", coalition=PledgeFactory().coalition, nation=NationFactory())
    with pytest.raises(ValidationError) as caught:
        pledge.full_clean()
    assert "currency" in caught.value.message_dict


def test_database_refuses_a_status_event_dated_before_the_announcement():
    pledge = PledgeFactory(announced_on=datetime.date(2025, 3, 3))
    with pytest.raises(IntegrityError), transaction.atomic():
        StatusEventFactory(pledge=pledge, occurred_on=datetime.date(2025, 3, 2))
    event = StatusEventFactory(pledge=pledge, occurred_on=datetime.date(2025, 3, 3))
    with pytest.raises(IntegrityError), transaction.atomic():
        StatusEvent.objects.filter(pk=event.pk).update(occurred_on=datetime.date(2025, 1, 1))


def test_database_refuses_moving_an_announcement_after_its_status_events():
    pledge = PledgeFactory(announced_on=datetime.date(2025, 3, 3))
    StatusEventFactory(pledge=pledge, occurred_on=datetime.date(2025, 3, 5))
    refused_by_database(Pledge.objects.filter(pk=pledge.pk), announced_on=datetime.date(2025, 4, 1))
    Pledge.objects.filter(pk=pledge.pk).update(announced_on=datetime.date(2025, 3, 4))  # still before: fine


def test_moving_the_announcement_after_a_status_event_is_a_field_error():
    pledge = PledgeFactory(announced_on=datetime.date(2025, 3, 3))
    StatusEventFactory(pledge=pledge, occurred_on=datetime.date(2025, 3, 5))
    pledge.announced_on = datetime.date(2025, 4, 1)
    with pytest.raises(ValidationError) as caught:
        pledge.full_clean()
    assert "announced_on" in caught.value.message_dict


def test_editors_cannot_record_a_delivery_above_the_pledge_but_a_third_partys_release_may():
    pledge = PledgeFactory()  # 10 vehicles, EUR 1,000,000
    source = SourceFactory()
    for values in ({"delivered_quantity": Decimal("11")}, {"delivered_eur": Decimal("2000000")}):
        event = StatusEvent(pledge=pledge, status="delivered", occurred_on=datetime.date(2025, 4, 1), source=source,
                            **values)
        with pytest.raises(ValidationError, match="exceeds the pledged"):
            event.full_clean()
    # What a source reports, the database keeps: Kiel's own EUR figure may exceed our conversion of the pledge.
    Pledge.objects.filter(pk=pledge.pk).update(delivered_eur=Decimal("2000000"), delivered_quantity=Decimal("11"))


def test_a_delivery_within_either_valuation_of_the_pledge_is_accepted():
    pledge = PledgeFactory(source_eur_value=Decimal("1050000"))  # the source's EUR figure is higher than ours
    event = StatusEvent(pledge=pledge, status="delivered", occurred_on=datetime.date(2025, 4, 1),
                        source=SourceFactory(), delivered_eur=Decimal("1050000"))
    event.full_clean()
