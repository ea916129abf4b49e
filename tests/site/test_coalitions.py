"""Coalitions side by side: the index, the switcher, the comparison, and a nation's pledges to each."""
import datetime
import re
from decimal import Decimal

import pytest

from tests.factories import CoalitionFactory, ObjectiveFactory, PledgeFactory, StatusEventFactory
from tracker.commitments import services
from tracker.commitments.models import Nation, Source

pytestmark = pytest.mark.django_db


def text(response):
    assert response.status_code == 200, response.content[:500]
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture
def air_defence(demo, rita):
    """A second coalition: Germany and Norway pledge air defence to it; Germany's is valued, Norway's is not."""
    coalition = CoalitionFactory(name="Air defence capability coalition", slug="air-defence")
    objective = ObjectiveFactory(coalition=coalition, title="Ground-based air defence", slug="gbad",
                                 target_quantity=Decimal(10), target_unit="systems")
    source = Source.objects.first()
    for slug, amount in (("germany", Decimal("900000000")), ("norway", None)):
        pledge = PledgeFactory(coalition=coalition, nation=Nation.objects.get(slug=slug), quantity=Decimal(2),
                               unit="systems", amount=amount, currency="EUR" if amount else "", eur_value=amount,
                               description=f"Air defence from {slug}")
        pledge.objectives.add(objective)
        pledge.sources.add(source)
        StatusEventFactory(pledge=pledge, status="announced", occurred_on=datetime.date(2025, 9, 1), source=source)
        services.publish_pledge(pledge, user=rita)
    return coalition


def test_the_api_totals_each_coalition_and_each_row_links_to_exactly_its_pledges(client, air_defence):
    rows = {row["key"]: row for row in client.get("/api/v1/summaries/by-coalition/").json()["results"]}
    assert set(rows) == {"coalition-of-the-willing", "air-defence"}
    air = rows["air-defence"]
    assert (air["firm"]["announced"]["eur"], air["firm"]["announced"]["pledges"],
            air["firm"]["announced"]["not_valued"]) == ("900000000.00", 2, 1)
    for row in rows.values():
        listed = client.get(row["firm"]["announced"]["pledges_url"]).json()
        assert listed["count"] == row["firm"]["announced"]["pledges"]
    whole = client.get("/api/v1/summaries/totals/").json()["results"][0]["firm"]["announced"]
    assert sum(Decimal(r["firm"]["announced"]["eur"]) for r in rows.values()) == Decimal(whole["eur"])


def test_the_coalitions_page_lists_every_coalition_with_its_figures(client, air_defence):
    page = text(client.get("/coalitions/"))
    assert "Coalition of the willing (Ukraine)" in page and "Air defence capability coalition" in page
    table = page[page.index('id="coalitions"'):]
    row = table[table.index("Air defence capability coalition"):]
    row = re.sub(r"<[^>]+>", "", row[:row.index("</tr>")])
    assert "€900,000,000 + 1 not valued" in row  # the unvalued pledge is named, never counted as 0


def test_two_coalitions_compare_on_one_page(client, air_defence):
    page = text(client.get("/coalitions/compare/?coalition=coalition-of-the-willing&coalition=air-defence"))
    totals = page[page.index('id="compare-totals"'):page.index("</table>", page.index('id="compare-totals"'))]
    assert totals.index("Coalition of the willing (Ukraine)") < totals.index("Air defence capability coalition")
    assert "€900.00 million" in totals
    shared = page[page.index('id="compare-shared"'):page.index("</table>", page.index('id="compare-shared"'))]
    assert "2 contributors with published pledges to every coalition compared" in shared
    assert "Germany" in shared and "Norway" in shared and "France" not in shared
    assert "Only in Coalition of the willing (Ukraine)</strong>:" in page
    assert "Ground-based air defence" in page and "Help Ukraine rebuild its military capabilities" in page


def test_a_comparison_names_a_coalition_it_does_not_know(client, air_defence):
    response = client.get("/coalitions/compare/?coalition=air-defence&coalition=atlantis")
    assert response.status_code == 400 and "atlantis" in response.content.decode()
    five = "&".join(f"coalition={CoalitionFactory().slug}" for _ in range(5))
    assert client.get(f"/coalitions/compare/?{five}").status_code == 400


def test_every_page_switches_between_coalitions(client, air_defence):
    for path in ("/", "/pledges/", "/methodology/", "/nations/germany/"):
        page = text(client.get(path))
        nav = page[page.index('class="switcher"'):page.index("</details>")]
        assert 'href="/coalitions/air-defence/"' in nav and 'href="/coalitions/coalition-of-the-willing/"' in nav
        assert 'href="/coalitions/compare/"' in nav


def test_a_nation_page_shows_its_pledges_to_every_coalition(client, air_defence):
    page = text(client.get("/nations/germany/"))
    assert "Pledges to each coalition" in page
    assert "Air defence from germany" in page and "Funding for Ukraine" in page
    assert 'href="/coalitions/air-defence/">Air defence capability coalition</a>' in page


def test_a_release_freezes_each_coalitions_figures_side_by_side(client, air_defence, rita):
    services.cut_release(user=rita, title="One")
    before = client.get("/api/v1/summaries/by-coalition/?release=1").json()
    PledgeFactory(coalition=air_defence, nation=Nation.objects.get(slug="france"))  # a draft changes nothing
    assert client.get("/api/v1/summaries/by-coalition/?release=1").json() == before
    page = text(client.get("/coalitions/compare/?coalition=air-defence&release=1"))
    assert "Release 1: One" in page
    CoalitionFactory(name="Founded after the release", slug="later")  # frozen in no release: not a default
    assert client.get("/coalitions/compare/?release=1").status_code == 200
    assert 'href="/coalitions/?release=1"' in client.get("/releases/1/").content.decode()
    assert client.get("/coalitions/?release=1").status_code == 200


def test_only_in_names_the_contributors_of_one_coalition_alone(client, air_defence, rita):
    third = CoalitionFactory(name="Maritime coalition", slug="maritime")
    source = Source.objects.first()
    pledge = PledgeFactory(coalition=third, nation=Nation.objects.get(slug="germany"), description="Ships")
    pledge.sources.add(source)
    StatusEventFactory(pledge=pledge, status="announced", occurred_on=datetime.date(2025, 9, 1), source=source)
    services.publish_pledge(pledge, user=rita)
    page = text(client.get("/coalitions/compare/?coalition=coalition-of-the-willing&coalition=air-defence"
                           "&coalition=maritime"))
    air_only = page[page.index("Only in Air defence capability coalition</strong>:"):].split("</li>")[0]
    assert "Norway" not in air_only and air_only.endswith(": none")  # Norway is in two of the three
    shared = page[page.index('id="compare-shared"'):]
    assert "Germany" in shared[:shared.index("</table>")]
