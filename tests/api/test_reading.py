import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import PledgeFactory, SourceFactory, StatusEventFactory
from tracker.commitments.models import Pledge

pytestmark = pytest.mark.django_db
PLEDGES = "/api/v1/pledges/"


def test_anonymous_caller_never_sees_draft_pledges(api, demo):
    draft = Pledge.objects.get(publication="draft")
    listed = [p["id"] for p in api.get(PLEDGES, {"page_size": 1000}).json()["results"]]
    assert draft.pk not in listed and len(listed) == Pledge.objects.filter(publication="published").count()
    assert api.get(f"{PLEDGES}{draft.pk}/").status_code == 404
    assert draft.description not in api.get(PLEDGES, {"format": "csv"}).content.decode()
    searched = api.get(PLEDGES, {"search": "demining"}).json()["results"]
    assert searched == []
    totals = api.get("/api/v1/summaries/totals/").json()["results"][0]
    assert totals["pledges"] == Pledge.objects.filter(publication="published").count()


def test_sources_cited_only_by_drafts_stay_hidden_from_readers(api, editor_api, demo):
    hidden = SourceFactory(title="Leaked draft memo")
    Pledge.objects.get(publication="draft").sources.add(hidden)
    assert hidden.pk not in [s["id"] for s in api.get("/api/v1/sources/", {"page_size": 1000}).json()["results"]]
    assert api.get(f"/api/v1/sources/{hidden.pk}/").status_code == 404
    assert editor_api.get(f"/api/v1/sources/{hidden.pk}/").status_code == 200


def test_editors_see_drafts(editor_api, demo):
    draft = Pledge.objects.get(publication="draft")
    assert editor_api.get(f"{PLEDGES}{draft.pk}/").json()["publication"] == "draft"


def test_filters_by_nation_code_kind_and_conditional(api, demo):
    gb = api.get(PLEDGES, {"nation": "GB"}).json()["results"]
    assert {p["nation"]["code"] for p in gb} == {"GB"} and len(gb) == 2
    conditional = api.get(PLEDGES, {"conditional": "true"}).json()["results"]
    assert conditional and all(p["is_conditional"] for p in conditional)
    assert {p["kind"] for p in api.get(PLEDGES, {"kind": "financial"}).json()["results"]} == {"financial"}


def test_as_of_shows_status_and_deliveries_as_they_stood_that_day(api, demo):
    pledge = Pledge.objects.get(external_id="demo:nl-mine-clearance")
    today = api.get(f"{PLEDGES}{pledge.pk}/").json()
    then = api.get(f"{PLEDGES}{pledge.pk}/", {"as_of": "2025-05-01"}).json()
    assert (today["status"], today["delivered_quantity"]) == ("delivered", "2.00")
    assert (then["status"], then["delivered_quantity"]) == ("committed", None)
    assert [e["status"] for e in then["status_events"]] == ["committed"]
    committed_then = api.get(PLEDGES, {"as_of": "2025-05-01", "status": "committed"}).json()["results"]
    assert pledge.pk in [p["id"] for p in committed_then]
    announced_later = Pledge.objects.get(external_id="demo:no-maritime")  # announced 2025-06-12
    assert announced_later.pk not in [p["id"] for p in api.get(PLEDGES, {"as_of": "2025-05-01"}).json()["results"]]


def test_cursor_pages_do_not_repeat_or_skip_when_pledges_are_added(api, demo):
    first = api.get(PLEDGES, {"page_size": 4}).json()
    PledgeFactory(publication="published", published_at="2025-01-01T00:00:00Z")  # newest: sorts first
    second = api.get(first["next"]).json()
    seen = [p["id"] for p in first["results"] + second["results"]]
    expected = list(Pledge.objects.filter(publication="published").order_by("-id").values_list("id", flat=True))
    assert seen == [i for i in expected if i in seen] and len(set(seen)) == 8
    assert seen == expected[1:9]


@pytest.mark.parametrize("params, field", [
    ({"bogus": "1"}, "bogus"), ({"as_of": "2025-02-30"}, "as_of"), ({"kind": "magic"}, "kind"),
    ({"status": "rumoured"}, "status"), ({"page_size": "0"}, "page_size"), ({"page_size": "5000"}, "page_size"),
    ({"page_size": "ten"}, "page_size"), ({"cursor": "garbage"}, "cursor"), ({"conditional": "maybe"}, "conditional"),
    ({"announced_after": "yesterday"}, "announced_after"),
])
def test_bad_query_parameters_get_400_naming_the_parameter(api, demo, params, field):
    response = api.get(PLEDGES, params)
    assert response.status_code == 400
    assert field in response.json()


def test_pledge_list_makes_the_same_number_of_queries_for_10_and_100(api, db, django_assert_num_queries):
    for _ in range(100):
        pledge = PledgeFactory(publication="published", published_at="2025-01-01T00:00:00Z")
        StatusEventFactory(pledge=pledge)
        pledge.sources.add(SourceFactory())
    api.get(PLEDGES, {"page_size": 10})
    with CaptureQueriesContext(connection) as ten:
        assert len(api.get(PLEDGES, {"page_size": 10}).json()["results"]) == 10
    with django_assert_num_queries(len(ten)):
        assert len(api.get(PLEDGES, {"page_size": 100}).json()["results"]) == 100


@pytest.mark.parametrize("resource", ["coalitions", "nations", "memberships", "objectives", "sources"])
def test_every_list_makes_the_same_number_of_queries_for_10_and_100_rows(api, demo, resource,
                                                                           django_assert_num_queries):
    from tests.factories import CoalitionFactory, MembershipFactory, ObjectiveFactory

    # Readers see a nation once something public uses it: here, a disclosed membership.
    factory = {"coalitions": CoalitionFactory, "nations": MembershipFactory, "memberships": MembershipFactory,
               "objectives": ObjectiveFactory}.get(resource)
    if factory:
        factory.create_batch(100)
    else:
        for pledge in Pledge.objects.filter(publication="published"):
            pledge.sources.add(*SourceFactory.create_batch(10))
    url = f"/api/v1/{resource}/"
    api.get(url, {"page_size": 10})
    with CaptureQueriesContext(connection) as ten:
        api.get(url, {"page_size": 10})
    with django_assert_num_queries(len(ten)):
        assert len(api.get(url, {"page_size": 100}).json()["results"]) == 100


def test_repeated_read_with_if_none_match_answers_304(api, demo, django_assert_max_num_queries):
    first = api.get(PLEDGES)
    assert first.status_code == 200 and first["ETag"] and first["Last-Modified"]
    with django_assert_max_num_queries(1):
        again = api.get(PLEDGES, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304


def test_csv_and_xlsx_downloads_escape_spreadsheet_formulas(api, rita, demo):
    from tracker.commitments import services

    pledge = PledgeFactory(description="=HYPERLINK(\"http://evil.example\")")
    pledge.sources.add(SourceFactory())
    services.publish_pledge(pledge, user=rita)
    csv_response = api.get(PLEDGES, {"format": "csv"})
    assert csv_response["Content-Type"].startswith("text/csv")
    assert "attachment" in csv_response["Content-Disposition"]
    body = csv_response.content.decode()
    assert "'=HYPERLINK" in body and ",=HYPERLINK" not in body

    import io

    from openpyxl import load_workbook

    xlsx = api.get(PLEDGES, {"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    description = rows[0].index("description")
    assert any(row[description] == "'=HYPERLINK(\"http://evil.example\")" for row in rows[1:])
    assert len(rows) - 1 == Pledge.objects.filter(publication="published").count()


def test_ordering_oldest_first_and_an_unknown_or_forged_ordering_is_a_400_naming_it(api, demo):
    oldest_first = [p["id"] for p in api.get(PLEDGES, {"ordering": "id", "page_size": 3}).json()["results"]]
    assert oldest_first == sorted(oldest_first) and oldest_first[0] == Pledge.objects.filter(
        publication="published").order_by("id").first().pk
    for forged in ("description", "-nation__name", "eur_value,id", "--eur_value", "EUR_VALUE", "eur_value;"):
        for url in (PLEDGES, f"{PLEDGES}export/"):
            response = api.get(url, {"ordering": forged})
            assert response.status_code == 400 and "ordering" in response.json(), (url, forged)
    response = api.get("/api/v1/sources/", {"ordering": "eur_value"})  # sources have no value
    assert response.status_code == 400 and "-updated_at" in str(response.json()["ordering"])


def test_template_export_gives_readers_published_pledges_only_with_the_same_filters(api, alice):
    from tests.factories import NationFactory, PledgeFactory
    nation = NationFactory(country="GB")
    published = PledgeFactory(nation=nation, description="Published radar", publication="published",
                              published_at="2025-01-01T00:00:00Z", external_id="gb-radar")
    PledgeFactory(nation=nation, coalition=published.coalition, description="Draft ships")
    response = api.get("/api/v1/pledges/export/", {"nation": "GB"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = response.content.decode()
    assert "Published radar" in text and "Draft ships" not in text
    assert text.splitlines()[0].startswith("external_id,coalition,nation")
    assert api.get("/api/v1/pledges/export/", {"natoin": "GB"}).status_code == 400
    api.force_authenticate(alice)  # editors export drafts too
    assert "Draft ships" in api.get("/api/v1/pledges/export/").content.decode()
