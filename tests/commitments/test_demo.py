import pytest
from django.core.management import call_command

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

pytestmark = pytest.mark.django_db
MODELS = [Coalition, Nation, NationFigures, Membership, Objective, Source, Pledge, StatusEvent]


def snapshot():
    return {model.__name__: (model.objects.count(), model.history.count()) for model in MODELS}


def test_loading_the_demo_twice_changes_nothing(capsys):
    call_command("load_demo")
    first = snapshot()
    call_command("load_demo")
    assert snapshot() == first
    assert "nothing changed" in capsys.readouterr().out


def test_demo_has_what_every_summary_needs():
    call_command("load_demo")
    coalition = Coalition.objects.get(slug="coalition-of-the-willing")
    pledges = Pledge.objects.filter(coalition=coalition)
    assert coalition.objectives.count() == 5
    assert Membership.objects.get(nation__country="US").role == "backstop"
    assert Nation.objects.filter(name="EU (Commission and Council)", kind="eu_institution").exists()
    assert pledges.filter(is_conditional=True).exists() and pledges.filter(is_conditional=False).exists()
    assert pledges.filter(status="delivered").exists()
    assert pledges.filter(quantity_undisclosed=True, quantity__isnull=True).exists()
    assert len(set(pledges.values_list("kind", flat=True))) >= 5
    assert pledges.filter(currency="GBP", eur_value__isnull=False, eur_rate_date__isnull=False).exists()
    assert pledges.filter(publication="draft").exists()


def test_everything_the_report_does_not_state_is_marked_as_example():
    call_command("load_demo")
    assert not Pledge.objects.filter(is_example=False).exists()
    named_by_report = {"United States", "EU (Commission and Council)"}
    for membership in Membership.objects.select_related("nation"):
        assert membership.is_example == (membership.nation.name not in named_by_report), membership
    assert all(objective.is_example for objective in Objective.objects.exclude(target_quantity=None, target_eur=None))
    assert Source.objects.filter(is_example=True).count() == 1  # the illustrative pledges' placeholder source


def test_contributors_get_the_world_banks_gdp_and_population_converted_at_the_ecbs_rate_of_the_year():
    from decimal import Decimal

    from tracker.commitments import valuation

    call_command("load_demo")
    germany = NationFigures.objects.get(nation__country="DE", year=2023)
    assert germany.source.publisher == "World Bank" and not germany.source.is_example
    # 4.46 trillion US dollars in 2023, at the ECB's 2023 average of 1.0813 dollars per euro
    assert germany.gdp_eur == (Decimal("4456081016705.961") / valuation.average_rate("USD", 2023)).quantize(
        Decimal("0.01"))
    assert 80_000_000 < germany.population < 90_000_000
    assert not NationFigures.objects.filter(nation__country=None).exists()  # bodies have no GDP
