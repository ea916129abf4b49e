import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import PledgeFactory, SourceFactory
from tracker.commitments import services
from tracker.commitments.models import Pledge

pytestmark = pytest.mark.django_db
SUMMARIES = ["totals", "by-nation", "by-objective", "by-kind", "by-status", "by-month"]


def summary(api, name, **params):
    response = api.get(f"/api/v1/summaries/{name}/", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_totals_say_their_stage_and_count_and_link_to_the_pledges_they_sum(api, demo):
    document = summary(api, "totals")
    row = document["results"][0]
    assert set(document["stages"]) == {"announced", "committed", "delivered"}
    assert row["delivered"] == {"eur": "580000000.00", "pledges": 3}
    listed = api.get(row["pledges_url"], {"page_size": 1000}).json()["results"]
    assert len(listed) == row["pledges"]


def test_by_nation_links_each_row_to_its_pledges_and_gives_share_of_gdp(api, demo):
    rows = {row["key"]: row for row in summary(api, "by-nation")["results"]}
    uk = rows["united-kingdom"]
    listed = api.get(uk["pledges_url"]).json()["results"]
    assert {p["nation"]["slug"] for p in listed} == {"united-kingdom"} and len(listed) == uk["pledges"]
    # 302,920,150.25 EUR of 3.37 trillion EUR
    assert uk["extra"]["share_of_gdp_percent"] == "0.0090"
    assert uk["extra"]["figures_year"] == 2024
    assert rows["eu-commission-and-council"]["extra"]["share_of_gdp_percent"] is None


def test_by_objective_gives_coverage_against_targets(api, demo):
    rows = {row["key"]: row for row in summary(api, "by-objective")["results"]}
    air = rows["air-superiority"]["extra"]
    assert (air["target_quantity"], air["pledged_quantity"], air["coverage_quantity_percent"]) == (
        "24.00", "6.00", "25.0000")
    capabilities = rows["rebuild-capabilities"]["extra"]
    assert capabilities["target_eur"] == "2000000000.00" and capabilities["coverage_eur_percent"] is not None


def test_by_month_is_cumulative(api, demo):
    rows = summary(api, "by-month")["results"]
    running = 0
    for row in rows:
        running += float(row["announced"]["eur"] or 0)
        assert float(row["extra"]["cumulative_announced_eur"]) == pytest.approx(running)


def test_summaries_honour_filters_and_as_of(api, demo):
    everything = summary(api, "totals")["results"][0]
    conditional = summary(api, "totals", conditional="true")["results"][0]
    assert conditional["pledges"] == everything["conditional_pledges"]
    earlier = summary(api, "totals", as_of="2025-05-01")["results"][0]
    assert earlier["delivered"]["eur"] is None and earlier["pledges"] < everything["pledges"]
    statuses = {row["key"] for row in summary(api, "by-status", as_of="2025-03-01")["results"]}
    assert "delivered" not in statuses


def test_repeated_summary_read_runs_no_aggregate_and_a_write_shows_at_once(api, rita, demo):
    summary(api, "by-nation")
    with CaptureQueriesContext(connection) as repeat:
        before = summary(api, "by-nation")
    assert not [q for q in repeat.captured_queries if "SUM(" in q["sql"].upper()]

    pledge = PledgeFactory(coalition=Pledge.objects.first().coalition, amount=10**9, eur_value=10**9,
                           status="committed", nation=Pledge.objects.get(external_id="demo:uk-training").nation)
    pledge.sources.add(SourceFactory())
    services.publish_pledge(pledge, user=rita)
    after = summary(api, "by-nation")
    uk_before = next(r for r in before["results"] if r["key"] == "united-kingdom")
    uk_after = next(r for r in after["results"] if r["key"] == "united-kingdom")
    assert uk_after["pledges"] == uk_before["pledges"] + 1


def test_summary_answers_304_to_if_none_match_without_recomputing(api, demo, django_assert_max_num_queries):
    first = api.get("/api/v1/summaries/by-kind/")
    with django_assert_max_num_queries(1):
        assert api.get("/api/v1/summaries/by-kind/", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304


@pytest.mark.parametrize("name", SUMMARIES)
def test_each_summary_makes_as_many_queries_with_many_pledges_as_with_few(api, demo, name,
                                                                        django_assert_num_queries):
    from django.core.cache import cache

    coalition = Pledge.objects.first().coalition
    cache.clear()
    with CaptureQueriesContext(connection) as few:
        summary(api, name)
    PledgeFactory.create_batch(60, coalition=coalition, publication="published", published_at="2025-01-01T00:00Z")
    cache.clear()
    with django_assert_num_queries(len(few)):
        summary(api, name)


@pytest.mark.parametrize("name", SUMMARIES)
def test_summaries_download_as_csv(api, demo, name):
    response = api.get(f"/api/v1/summaries/{name}/", {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.content.decode().splitlines()[0].startswith("key,label,pledges")


@pytest.mark.parametrize("params, field", [({"as_of": "2025-13-01"}, "as_of"), ({"year": "abc"}, "year"),
                                           ({"nope": "1"}, "nope"), ({"kind": "x"}, "kind")])
def test_summary_bad_parameters_get_400_naming_them(api, demo, params, field):
    response = api.get("/api/v1/summaries/by-nation/", params)
    assert response.status_code == 400 and field in response.json()
