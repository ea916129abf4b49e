"""Test data builders. Records are saved through services where history matters to the test."""
import datetime
from decimal import Decimal

import factory
from django_countries import countries

from tracker.commitments import services
from tracker.commitments.models import (
    Coalition,
    Membership,
    Nation,
    NationFigures,
    Objective,
    Pledge,
    Source,
    StatusEvent,
)

COUNTRY_CODES = [code for code, _ in countries]


def unused_country_code():
    taken = set(Nation.objects.exclude(country=None).values_list("country", flat=True))
    return next(code for code in COUNTRY_CODES if code not in taken)


class CoalitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Coalition

    name = factory.Sequence(lambda n: f"Coalition {n}")
    slug = factory.Sequence(lambda n: f"coalition-{n}")


class NationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Nation

    name = factory.Sequence(lambda n: f"Nation {n}")
    slug = factory.Sequence(lambda n: f"nation-{n}")
    kind = Nation.Kind.STATE
    country = factory.LazyFunction(lambda: unused_country_code())


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source

    title = factory.Sequence(lambda n: f"Ministry statement {n}")
    publisher = "Ministry of Defence"
    url = factory.Sequence(lambda n: f"https://gov.example/statements/{n}")
    published_on = datetime.date(2025, 3, 1)
    kind = Source.Kind.OFFICIAL_STATEMENT
    is_official = True


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    coalition = factory.SubFactory(CoalitionFactory)
    nation = factory.SubFactory(NationFactory)


class ObjectiveFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Objective

    coalition = factory.SubFactory(CoalitionFactory)
    title = factory.Sequence(lambda n: f"Objective {n}")
    slug = factory.Sequence(lambda n: f"objective-{n}")


class PledgeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pledge
        skip_postgeneration_save = True

    coalition = factory.SubFactory(CoalitionFactory)
    nation = factory.SubFactory(NationFactory)
    kind = Pledge.Kind.MILITARY
    description = factory.Sequence(lambda n: f"Armoured vehicles, batch {n}")
    quantity = Decimal("10")
    unit = "vehicles"
    amount = Decimal("1000000")
    currency = "EUR"
    eur_value = Decimal("1000000")
    eur_rate = Decimal("1")
    eur_rate_date = datetime.date(2025, 3, 3)
    announced_on = datetime.date(2025, 3, 3)

    @factory.post_generation
    def derived_state(pledge, create, extracted, **kwargs):
        """Its first revision and its periods, as services keep them for every pledge they save."""
        if create:
            services.record_revision(pledge)
            services.rebuild_periods([pledge.pk])


class StatusEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StatusEvent
        skip_postgeneration_save = True

    pledge = factory.SubFactory(PledgeFactory)
    status = "announced"
    occurred_on = datetime.date(2025, 3, 3)
    source = factory.SubFactory(SourceFactory)

    @factory.post_generation
    def derived_state(event, create, extracted, **kwargs):
        if create:
            services.refresh_state(event.pledge, user=None, reason="Test data")


class NationFiguresFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NationFigures

    nation = factory.SubFactory(NationFactory)
    year = 2024
    gdp_eur = Decimal("1000000000000")
    population = 10_000_000
    source = factory.SubFactory(SourceFactory)
