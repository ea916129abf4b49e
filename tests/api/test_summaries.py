"""Summaries as readers rely on them: unknown is never zero, conditional stays apart, every event counts on its own
date, and every figure links to exactly the pledges it sums."""
import datetime
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import PledgeFactory, SourceFactory
from tracker.commitments import services
from tracker.commitments.models import NationFigures, Pledge

pytestmark = pytest.mark.django_db
SUMMARIES = ["totals", "by-nation", "by-objective", "by-kind", "by-status", "by-month"]
STAGES = ["announced", "committed", "delivered"]


def summary(api, name, **params):
    response = api.get(f"/api/v1/summaries/{name}/", params)
    assert response.status_code == 200, response.content
    return response.json()


def listed(api, url):
    response = api.get(url + ("&" if "?" in url else "?") + "page_size=1000")
    assert response.status_code == 200, (url, response.content)
    return response.json()["results"]


def value_of(pledge, stage, valuation="ecb"):
    if stage == "delivered":
        return pledge["delivered_eur"]
    return pledge["source_eur_value" if valuation == "source" else "eur_value"]


def assert_every_figure_sums_its_list(api, document):
    """Each figure's list holds exactly the pledges it counts: as many, the same sum, the same not valued."""
    checked = 0
    for row in document["results"]:
        for commitment in ("firm", "conditional"):
            for stage in STAGES:
                figure = row[commitment][stage]
                if figure["pledges_url"] is None:  # the document's filters leave no pledge for it
                    assert figure["pledges"] == 0
                    continue
                pledges = listed(api, figure["pledges_url"])
                values = [value_of(p, stage, document["valuation"]) for p in pledges]
                known = [Decimal(v) for v in values if v is not None]
                assert len(pledges) == figure["pledges"], (row["key"], commitment, stage)
                assert len(values) - len(known) == figure["not_valued"], (row["key"], commitment, stage)
                assert (f"{sum(known):.2f}" if known else None) == figure["eur"], (row["key"], commitment, stage)
                assert all(p["is_conditional"] == (commitment == "conditional") for p in pledges)
                checked += 1
        assert len(listed(api, row["pledges_url"])) == row["pledges"]
    return checked


@pytest.mark.parametrize("name", SUMMARIES)
def test_every_figure_of_the_demo_links_to_exactly_the_pledges_it_sums(api, demo, name):
    assert assert_every_figure_sums_its_list(api, summary(api, name)) > 0


@pytest.mark.parametrize("params", [{"as_of": "2025-06-30"}, {"valuation": "source"}, {"conditional": "true"},
                                    {"nation": "GB"}, {"as_of": "2025-03-01", "kind": "military"}])
def test_figures_sum_their_lists_as_of_a_date_and_filtered(api, demo, params):
    for name in ("totals", "by-nation", "by-objective"):
        assert_every_figure_sums_its_list(api, summary(api, name, **params))


def test_unknown_values_are_counted_and_named_never_added_as_zero(api, demo):
    totals = summary(api, "totals")["results"][0]
    delivered = totals["firm"]["delivered"]  # the UK's training is partly delivered, its value not reported
    assert (delivered["eur"], delivered["pledges"], delivered["not_valued"]) == ("580000000.00", 4, 1)
    earlier = summary(api, "totals", as_of="2025-03-01")["results"][0]["conditional"]["announced"]
    assert (earlier["eur"], earlier["pledges"], earlier["not_valued"]) == (None, 1, 1)  # not "EUR 0"
    troops = {r["key"]: r for r in summary(api, "by-objective")["results"]}["operations-on-territory"]
    extra = troops["extra"]
    assert troops["firm"]["announced"]["pledges"] == 0
    assert extra["units"]["conditional"] == {"quantity": None, "pledges": 0, "undisclosed": 1}
    assert extra["coverage_quantity_percent"] is None and extra["conditional_would_add_quantity_percent"] is None


def test_conditional_pledges_never_count_in_firm_figures(api, demo):
    france = Pledge.objects.get(external_id="demo:fr-air-policing")  # EUR 450 m, committed, conditional
    totals = summary(api, "totals")["results"][0]
    firm_committed = listed(api, totals["firm"]["committed"]["pledges_url"])
    assert france.pk not in {p["id"] for p in firm_committed}
    assert totals["conditional"]["committed"]["eur"] == "450000000.00"
    air = {r["key"]: r for r in summary(api, "by-objective")["results"]}["air-superiority"]["extra"]
    assert air["coverage_quantity_percent"] is None  # no firm pledge of aircraft at all
    assert air["conditional_would_add_quantity_percent"] == "25.0000"  # France's 6 of 24 aircraft
    ranked = [r["key"] for r in summary(api, "by-nation")["results"]]
    assert ranked.index("france") > ranked.index("norway")  # ranked by firm value: France has none


def test_deliveries_count_on_the_date_of_the_delivery_event(api, demo):
    months = {r["key"]: r for r in summary(api, "by-month")["results"]}
    assert months["2025-05"]["firm"]["delivered"]["pledges"] == 0  # announced earlier, delivered later
    assert months["2025-06"]["firm"]["delivered"]["eur"] == "130000000.00"  # Denmark, 30 June 2025
    assert months["2025-06"]["as_of"] == "2025-06-30"
    as_of = summary(api, "totals", as_of="2025-06-30")["results"][0]
    assert as_of["firm"]["delivered"]["eur"] == "130000000.00"


def test_the_timeline_at_each_months_end_equals_the_as_of_totals_that_day(api, demo):
    for row in summary(api, "by-month")["results"]:
        totals = summary(api, "totals", as_of=row["as_of"])["results"][0]
        for commitment in ("firm", "conditional"):
            for stage in STAGES:
                ours, theirs = row[commitment][stage], totals[commitment][stage]
                assert (ours["eur"], ours["pledges"], ours["not_valued"]) == (
                    theirs["eur"], theirs["pledges"], theirs["not_valued"]), (row["key"], commitment, stage)


def test_a_revised_amount_counts_from_its_date_and_earlier_dates_keep_the_old_one(api, demo, alice):
    pledge = Pledge.objects.get(external_id="demo:nl-mine-clearance")  # EUR 150 m since 1 April 2025
    pledge.amount = Decimal("200000000")
    services.save_record(pledge, user=alice, reason="New figure", effective_on=datetime.date(2025, 9, 1))
    august = listed(api, "/api/v1/pledges/?nation=netherlands&as_of=2025-08-31")[0]
    september = listed(api, "/api/v1/pledges/?nation=netherlands&as_of=2025-09-01")[0]
    assert (august["eur_value"], september["eur_value"]) == ("150000000.00", "200000000.00")
    months = {r["key"]: r for r in summary(api, "by-nation", as_of="2025-08-31")["results"]}
    assert months["netherlands"]["firm"]["announced"]["eur"] == "150000000.00"
    assert summary(api, "by-nation")["results"][0]  # today's figure moved on
    assert {r["key"]: r for r in summary(api, "by-nation")["results"]}["netherlands"]["firm"]["announced"][
        "eur"] == "200000000.00"


def test_by_nation_gives_share_of_gdp_of_firm_pledges(api, demo):
    rows = {row["key"]: row for row in summary(api, "by-nation")["results"]}
    uk = rows["united-kingdom"]
    figures = NationFigures.objects.get(nation__slug="united-kingdom", year=2023)  # the World Bank's latest
    share = Decimal(uk["firm"]["announced"]["eur"]) * 100 / figures.gdp_eur
    assert uk["extra"]["share_of_gdp_percent"] == f"{share:.4f}" and uk["extra"]["figures_year"] == 2023
    assert rows["eu-commission-and-council"]["extra"]["share_of_gdp_percent"] is None


def test_the_delivery_gap_says_which_way_unknown_values_would_move_it(api, demo):
    gap = summary(api, "totals")["results"][0]["delivery_gap"]
    assert gap["bound"] == "at_most"  # the UK's partial delivery has no value: the gap can only be smaller


def test_repeated_summary_read_runs_no_aggregate_and_a_write_shows_at_once(api, rita, demo):
    summary(api, "by-nation")
    with CaptureQueriesContext(connection) as repeat:
        before = summary(api, "by-nation")
    assert not [q for q in repeat.captured_queries if "SUM(" in q["sql"].upper()]

    uk = Pledge.objects.get(external_id="demo:uk-training").nation
    pledge = PledgeFactory(coalition=Pledge.objects.first().coalition, amount=10**9, eur_value=10**9, nation=uk)
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


@pytest.mark.parametrize("name", [*SUMMARIES, "by-item-type"])
def test_each_summary_makes_as_many_queries_with_many_pledges_as_with_few(api, demo, name,
                                                                        django_assert_num_queries):
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


@pytest.mark.parametrize("params, field", [
    ({"as_of": "2025-13-01"}, "as_of"), ({"year": "abc"}, "year"), ({"year": "²"}, "year"), ({"nope": "1"}, "nope"),
    ({"kind": "x"}, "kind"), ({"nation": "XX"}, "nation"), ({"nation": "Germany"}, "nation"),
    ({"coalition": "nope"}, "coalition"), ({"objective": "nope"}, "objective"), ({"as_of": "2999-01-01"}, "as_of"),
    ({"as_of": "0001-01-01"}, "as_of"), ({"valuation": "kiel"}, "valuation"), ({"stage": "rumoured"}, "stage"),
])
def test_summary_bad_parameters_get_400_naming_them(api, demo, params, field):
    response = api.get("/api/v1/summaries/by-nation/", params)
    assert response.status_code == 400 and field in response.json(), response.content


def test_downloads_carry_their_date_filters_time_absolute_links_and_example_mark(api, demo):
    import csv
    import io

    from openpyxl import load_workbook

    response = api.get("/api/v1/summaries/by-nation/", {"format": "csv", "as_of": "2025-06-30", "kind": "military"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {row["as_of"] for row in rows} == {"2025-06-30"} and {row["filters"] for row in rows} == {"kind=military"}
    assert all(row["generated_at"] and row["example"] == "True" for row in rows)  # the demo's pledges are examples
    assert rows[0]["firm_announced_pledges_url"].startswith("http://testserver/api/v1/pledges/?")
    workbook = load_workbook(io.BytesIO(api.get("/api/v1/summaries/by-nation/", {"format": "xlsx"}).content))
    about = [row[0] for row in workbook["about"].iter_rows(values_only=True)]
    assert any(line.startswith("EXAMPLE DATA") for line in about)


def test_every_figure_of_a_generated_data_set_links_to_exactly_the_pledges_it_sums(api, alice, rita):
    """Random pledges (seeded): valued or not, firm or conditional, by a pass-through body or not, moved through
    random stages on random days, some revised later."""
    import random

    from tests.factories import CoalitionFactory, NationFactory
    from tracker.commitments.models import Nation

    rng = random.Random(20261127)
    coalition = CoalitionFactory(slug="generated")
    nations = [NationFactory() for _ in range(4)] + [
        services.save_record(Nation(name="A fund", slug="a-fund", kind="fund", is_pass_through=True), user=alice)]
    source = SourceFactory()
    for n in range(30):
        announced = datetime.date(2024, 1, 1) + datetime.timedelta(days=rng.randrange(500))
        conditional = rng.random() < 0.3
        amount = Decimal(rng.randrange(10**5, 10**9)) if rng.random() < 0.8 else None
        pledge = services.save_record(Pledge(
            coalition=coalition, nation=rng.choice(nations), kind=rng.choice(["military", "financial", "training"]),
            description=f"Generated {n}", amount=amount, currency="EUR" if amount else "",
            source_eur_value=Decimal(rng.randrange(10**5, 10**9)) if rng.random() < 0.5 else None,
            announced_on=announced, is_conditional=conditional, condition="if" if conditional else ""), user=alice)
        day = announced
        for status in rng.sample(["announced", "committed", "partially_delivered", "delivered", "stalled",
                                  "cancelled"],
                                 rng.randrange(0, 4)):
            day += datetime.timedelta(days=rng.randrange(60))
            services.record_status_event(pledge, user=alice, status=status, occurred_on=day, source=source,
                                         delivered_eur=Decimal(rng.randrange(10**4, 10**5))
                                         if "delivered" in status and rng.random() < 0.7 else None)
        if amount and rng.random() < 0.3:
            pledge.amount = amount * 2
            services.save_record(pledge, user=alice, reason="Doubled",
                                 effective_on=announced + datetime.timedelta(days=rng.randrange(300)))
        pledge.sources.add(source)
        services.publish_pledge(pledge, user=rita)
    # Deliveries reported, then stalled or cancelled: still counted as delivered (what was delivered stays so).
    for n, status in enumerate(["stalled", "cancelled"]):
        pledge = services.save_record(Pledge(
            coalition=coalition, nation=nations[n], kind="military", description=f"Delivered, then {status}",
            amount=Decimal("1000000"), currency="EUR", announced_on=datetime.date(2024, 3, 1)), user=alice)
        services.record_status_event(pledge, user=alice, status="partially_delivered", source=source,
                                     occurred_on=datetime.date(2024, 5, 1), delivered_eur=Decimal("250000"))
        services.record_status_event(pledge, user=alice, status=status, source=source,
                                     occurred_on=datetime.date(2024, 8, 1))
        pledge.sources.add(source)
        services.publish_pledge(pledge, user=rita)
    cache.clear()
    from django.contrib.auth.models import User

    api.force_authenticate(User.objects.create_user("reader"))  # a reader with an account: not throttled, no drafts
    for name in ("totals", "by-nation", "by-kind", "by-status", "by-month"):
        for params in ({}, {"as_of": "2024-09-30"}, {"valuation": "source"}):
            assert assert_every_figure_sums_its_list(api, summary(api, name, coalition="generated", **params))


def test_concentration_shows_how_much_of_each_firm_figure_rests_on_the_largest_contributors(api, alice, rita):
    """Shares of the firm value known: conditional pledges, pass-through funds and unvalued pledges are in none,
    and the figure says how many pledges it could not value."""
    from tests.factories import CoalitionFactory, NationFactory
    from tracker.commitments.models import Nation

    coalition = CoalitionFactory(slug="concentrated")
    a, b, c = NationFactory(), NationFactory(), NationFactory()
    fund = services.save_record(Nation(name="A fund", slug="a-fund", kind="fund", is_pass_through=True), user=alice)
    source = SourceFactory()

    def pledge(nation, amount, conditional=False, day=datetime.date(2025, 1, 10)):
        made = services.save_record(Pledge(
            coalition=coalition, nation=nation, kind="military", description="Concentration", amount=amount,
            currency="EUR" if amount else "", announced_on=day, is_conditional=conditional,
            condition="if" if conditional else ""), user=alice)
        services.record_status_event(made, user=alice, status="announced", occurred_on=day, source=source)
        made.sources.add(source)
        services.publish_pledge(made, user=rita)

    pledge(a, Decimal(600))
    pledge(b, Decimal(300))
    pledge(c, Decimal(100), day=datetime.date(2025, 6, 1))
    pledge(c, Decimal(5000), conditional=True)
    pledge(fund, Decimal(9000))
    pledge(b, None)
    document = summary(api, "by-nation", coalition="concentrated")
    assert document["concentration"]["announced"] == {
        "contributors": 3, "eur": "1000.00", "top_1_percent": "60.0000", "top_3_percent": "100.0000",
        "top_5_percent": "100.0000", "hhi": "4600", "not_valued": 1, "complete": False}  # 60² + 30² + 10²
    assert document["concentration"]["delivered"] == {
        "contributors": 0, "eur": None, "top_1_percent": None, "top_3_percent": None, "top_5_percent": None,
        "hhi": None, "not_valued": 0, "complete": True}  # nothing delivered: no share, never 0 %
    before_c = summary(api, "by-nation", coalition="concentrated", as_of="2025-03-01")["concentration"]["announced"]
    assert (before_c["contributors"], before_c["top_1_percent"], before_c["hhi"]) == (2, "66.6667", "5556")
