"""Lists sorted by value, announcement date or last change, page after page, and how many records match."""
import base64
import datetime
from decimal import Decimal

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import PledgeFactory, SourceFactory
from tracker.commitments import services
from tracker.commitments.models import Pledge

pytestmark = pytest.mark.django_db
PLEDGES = "/api/v1/pledges/"
FIELDS = ["eur_value", "announced_on", "updated_at"]


@pytest.fixture
def ties_and_gaps(demo):
    """The demo's published pledges (two of them unvalued), plus pledges sharing a value and a date with others,
    and more without a value or without a date: every way a sort could drop or repeat a record."""
    shared_value, shared_day = Decimal("150000000.00"), datetime.date(2025, 3, 3)
    for eur_value, day in ((shared_value, shared_day), (shared_value, shared_day), (None, shared_day),
                           (None, None), (shared_value, None), (None, None)):
        pledge = PledgeFactory(publication="published", published_at="2025-01-01T00:00:00Z")
        Pledge.objects.filter(pk=pledge.pk).update(eur_value=eur_value, announced_on=day)
    services.rebuild_periods(list(Pledge.objects.values_list("id", flat=True)))
    services.bump_data_version()


def expected_order(ordering):
    descending, field = ordering.startswith("-"), ordering.lstrip("-")
    rows = list(Pledge.objects.filter(publication="published").values_list(field, "id"))
    valued = sorted((row for row in rows if row[0] is not None), reverse=descending)
    unvalued = sorted((row for row in rows if row[0] is None), key=lambda row: row[1], reverse=descending)
    return [pk for _, pk in valued + unvalued]


def follow(api, url, params=None, direction="next"):
    ids, pages = [], 0
    while url:
        response = api.get(url, params)
        assert response.status_code == 200, response.content
        body = response.json()
        ids.extend(p["id"] for p in (body["results"] if direction == "next" else reversed(body["results"])))
        url, params, pages = body[direction], None, pages + 1
    return ids, pages


@pytest.mark.parametrize("ordering", [f"{sign}{field}" for field in FIELDS for sign in ("", "-")])
def test_pledges_sort_by_value_date_or_last_change_with_blanks_last_and_every_pledge_once(api, ties_and_gaps,
                                                                                          ordering):
    expected = expected_order(ordering)
    ids, pages = follow(api, PLEDGES, {"ordering": ordering, "page_size": 2})
    assert ids == expected and pages == (len(expected) + 1) // 2
    # Back from the last page, following previous: the same records, the same order.
    last = api.get(PLEDGES, {"ordering": ordering, "page_size": 2})
    while last.json()["next"]:
        last = api.get(last.json()["next"])
    back, _ = follow(api, last.json()["previous"], direction="previous")
    assert back[::-1] + [p["id"] for p in last.json()["results"]] == expected


def test_highest_value_first_puts_the_largest_pledge_first_and_unvalued_ones_last(api, demo):
    results = api.get(PLEDGES, {"ordering": "-eur_value", "page_size": 1000}).json()["results"]
    values = [p["eur_value"] for p in results]
    assert values[0] == "1000000000.00" and values[-2:] == [None, None]
    known = [Decimal(value) for value in values if value is not None]
    assert known == sorted(known, reverse=True)


def test_sorting_by_value_as_of_a_day_uses_the_values_of_that_day(api, demo):
    results = api.get(PLEDGES, {"ordering": "eur_value", "as_of": "2025-05-01", "page_size": 1000}).json()["results"]
    known = [Decimal(p["eur_value"]) for p in results if p["eur_value"] is not None]
    assert results and known == sorted(known)
    assert [p["eur_value"] for p in results[len(known):]] == [None] * (len(results) - len(known))
    paged, _ = follow(api, PLEDGES, {"ordering": "eur_value", "as_of": "2025-05-01", "page_size": 2})
    assert paged == [p["id"] for p in results]


def test_a_pledge_added_while_paging_by_value_neither_repeats_nor_skips_one(api, ties_and_gaps, rita):
    first = api.get(PLEDGES, {"ordering": "-eur_value", "page_size": 5}).json()
    big = PledgeFactory(amount=Decimal("9000000000"), currency="EUR", announced_on=datetime.date(2025, 1, 1))
    big.sources.add(SourceFactory())
    services.publish_pledge(big, user=rita)
    rest, _ = follow(api, first["next"])
    seen = [p["id"] for p in first["results"]] + rest
    assert len(seen) == len(set(seen)) and big.pk not in seen
    assert seen == [pk for pk in expected_order("-eur_value") if pk != big.pk]


def test_other_lists_sort_by_last_change_and_refuse_pledge_only_orderings(api, demo):
    nations = api.get("/api/v1/nations/", {"ordering": "-updated_at", "page_size": 1000}).json()["results"]
    stamps = [n["updated_at"] for n in nations] if nations and "updated_at" in nations[0] else None
    assert nations and (stamps is None or stamps == sorted(stamps, reverse=True))
    response = api.get("/api/v1/nations/", {"ordering": "announced_on"})
    assert response.status_code == 400 and "ordering" in response.json()


def cursor(raw):
    return base64.b64encode(raw.encode()).decode()


@pytest.mark.parametrize("ordering, raw", [
    ("-eur_value", "p=12"),  # an id cursor, under a value ordering
    ("id", "p=150000000.00~5"),  # a value cursor, under the id ordering
    ("-eur_value", "p=1e9~5"), ("-eur_value", "p=150000000.00~"), ("-eur_value", "p=-5~3"),
    ("announced_on", "p=2025-02-30~3"), ("announced_on", "p=9999999-01-01~3"), ("updated_at", "p=x~3"),
    ("-eur_value", "o=2&p=150000000.00~5"), ("-eur_value", "r=0"),
])
def test_a_forged_cursor_is_a_400_naming_the_cursor(api, demo, ordering, raw):
    response = api.get(PLEDGES, {"ordering": ordering, "cursor": cursor(raw)})
    assert response.status_code == 400 and "cursor" in response.json(), response.content


def test_every_list_says_how_many_records_match_on_every_page(api, editor_api, demo):
    published = Pledge.objects.filter(publication="published").count()
    first = api.get(PLEDGES, {"page_size": 3}).json()
    second = api.get(first["next"]).json()
    assert first["count"] == second["count"] == published
    assert api.get(PLEDGES, {"nation": "GB"}).json()["count"] == 2
    assert api.get(PLEDGES, {"as_of": "2025-05-01", "ordering": "-eur_value"}).json()["count"] == len(
        api.get(PLEDGES, {"as_of": "2025-05-01", "page_size": 1000}).json()["results"])
    assert editor_api.get(PLEDGES).json()["count"] == Pledge.objects.count() == published + 1  # and the draft
    for resource in ("coalitions", "nations", "memberships", "objectives", "sources"):
        body = api.get(f"/api/v1/{resource}/", {"page_size": 1000}).json()
        assert body["count"] == len(body["results"]) > 0, resource


def test_the_count_follows_a_write_on_the_very_next_read(api, rita, demo):
    before = api.get(PLEDGES).json()["count"]
    pledge = PledgeFactory()
    pledge.sources.add(SourceFactory())
    services.publish_pledge(pledge, user=rita)
    assert api.get(PLEDGES).json()["count"] == before + 1


def test_a_page_of_pledges_costs_a_fixed_few_queries_and_following_next_does_not_count_again(
        api, demo, django_assert_max_num_queries):
    """A page: the data version (for the ETag), the page's ids, and its pledges read in bulk (pledges, objectives,
    sources, status events, item lines and their deliveries, the last skipped when there are no items; one pipelined
    batch of five on PostgreSQL). The first page also counts the matching pledges and keeps the count; the next
    pages take the count kept."""
    bulk = 5 if connection.vendor == "postgresql" else 6
    with CaptureQueriesContext(connection) as first_queries:
        first = api.get(PLEDGES, {"page_size": 4, "ordering": "-announced_on"}).json()
    sql = [query["sql"] for query in first_queries.captured_queries]
    assert len([query for query in sql if "COUNT(*)" in query and "commitments_pledge" in query]) == 1
    with django_assert_max_num_queries(2 + bulk), CaptureQueriesContext(connection) as second_queries:
        second = api.get(first["next"]).json()
    assert not [query for query in second_queries.captured_queries
                if "COUNT(" in query["sql"] or "tracker_cache" in query["sql"]]
    assert len(second["results"]) == 4 and second["count"] == first["count"]


@pytest.mark.parametrize("ordering", ["", "-relevance", "relevance"])
def test_searching_lists_the_best_matches_first_page_after_page(api, demo, ordering):
    from tracker.commitments.search import RANK, search_pledges

    published = Pledge.objects.filter(publication="published")
    ranks = dict(search_pledges(published, "ceasefire").values_list("id", RANK))
    assert len(ranks) >= 3 and len(set(ranks.values())) > 1, "the demo has matches of different strength"
    url, seen = f"{PLEDGES}?search=ceasefire&page_size=1&ordering={ordering}", []
    while url:
        caches["throttle"].clear()  # one page per match: more requests than a minute's anonymous allowance
        body = api.get(url).json()
        assert body["count"] == len(ranks)
        seen += [row["id"] for row in body["results"]]
        assert len(seen) <= len(ranks), f"a page came again: {seen}"
        url = body["next"]
    assert sorted(seen) == sorted(ranks)  # every match once
    strength = [ranks[pk] for pk in seen]
    assert strength == sorted(strength, reverse=ordering != "relevance")
    if ordering != "relevance":
        assert seen[0] == Pledge.objects.get(external_id="demo:uk-ceasefire-troops").pk


def test_relevance_without_a_search_lists_by_id(api, demo):
    ids = [row["id"] for row in api.get(f"{PLEDGES}?ordering=-relevance").json()["results"]]
    assert ids == sorted(ids, reverse=True)
