"""Probes an attacker or a careless client would send: each gets a 4xx naming what is wrong, never a 500, and no
reader ever learns anything about drafts."""
import base64
import datetime
import io

import pytest
from django.core.management import call_command
from django.db import connection
from openpyxl import load_workbook

from tests.factories import NationFactory, PledgeFactory, SourceFactory
from tracker.commitments import selectors, services
from tracker.commitments.models import Coalition, Nation, Pledge, Source

pytestmark = pytest.mark.django_db
PLEDGES = "/api/v1/pledges/"


def cursor(raw):
    return base64.b64encode(raw.encode()).decode()


@pytest.mark.parametrize("params, field", [
    ({"cursor": cursor("r=1&p=xyz")}, "cursor"), ({"cursor": cursor("p=1\x00")}, "cursor"),
    ({"cursor": cursor("o=-5")}, "cursor"), ({"cursor": "%%%"}, "cursor"), ({"page_size": "²"}, "page_size"),
    ({"page_size": "１２３"}, "page_size"), ({"page_size": "0"}, "page_size"), ({"page_size": "1001"}, "page_size"),
    ({"as_of": "9999-12-31"}, "as_of"), ({"as_of": "２０２５-０１-０１"}, "as_of"),
    ({"nation": "fr\x00ance"}, "nation"),
])
def test_forged_or_odd_query_values_on_lists_get_400_naming_them(api, demo, params, field):
    for url in (PLEDGES, "/api/v1/sources/", "/api/v1/nations/"):
        if field in ("as_of", "nation") and url != PLEDGES:
            continue
        response = api.get(url, params)
        assert response.status_code == 400, (url, params, response.content)
        assert field in response.json()


def test_a_year_in_other_digits_is_refused_on_summaries(api, demo):
    for year in ("²", "２０２４", "0001", "9999"):
        response = api.get("/api/v1/summaries/by-nation/", {"year": year})
        assert response.status_code == 400 and "year" in response.json()


@pytest.mark.parametrize("body, field", [
    ({"nation": "fr\x00ance"}, "nation"),
    ({"description": "Nested", "condition": [[[["deep"]]]]}, "condition"),
    ({"amount": "１２３"}, "amount"),
    ({"earmarked_from": "２０２５"}, "earmarked_from"),
    ({"announced_on": "9999-12-31"}, "announced_on"),
    ({"announced_on": "0001-01-01"}, "announced_on"),
    ({"description": "with a NUL\x00 inside"}, "description"),
])
def test_bad_bodies_get_400_naming_the_field_and_save_nothing(editor_api, demo, body, field):
    before = Pledge.objects.count()
    payload = {"coalition": "coalition-of-the-willing", "nation": "france", "kind": "military",
               "description": "Probe", **body}
    response = editor_api.post(PLEDGES, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert Pledge.objects.count() == before


def test_a_number_where_text_belongs_is_a_400_naming_the_field_not_saved_as_text(editor_api, demo):
    before = Pledge.objects.count()
    pledge = {"coalition": "coalition-of-the-willing", "nation": "france", "kind": "military", "description": 12345}
    response = editor_api.post(PLEDGES, pledge, format="json")
    assert response.status_code == 400 and "description" in response.json()
    coalition = {"name": "Zed", "slug": "zed", "change_reason": -1.2e41}
    response = editor_api.post("/api/v1/coalitions/", coalition, format="json")
    assert response.status_code == 400 and "change_reason" in response.json()
    assert Pledge.objects.count() == before and not Coalition.objects.filter(slug="zed").exists()


def test_an_array_nested_a_thousand_deep_is_refused_not_a_recursion_error(editor_api, demo):
    body = '{"coalition": "coalition-of-the-willing", "description": ' + "[" * 1000 + "]" * 1000 + "}"
    response = editor_api.generic("POST", PLEDGES, body, content_type="application/json")
    assert response.status_code == 400


def test_if_match_star_is_428_with_a_message(editor_api, demo):
    pledge = Pledge.objects.get(external_id="demo:uk-training")
    response = editor_api.patch(f"{PLEDGES}{pledge.pk}/", {"description": "x", "change_reason": "y"},
                                format="json", HTTP_IF_MATCH="*")
    assert response.status_code == 428 and "not *" in response.json()["detail"]
    publish = editor_api.post(f"{PLEDGES}{pledge.pk}/publish/", HTTP_IF_MATCH="*")
    assert publish.status_code in (403, 428)


def test_if_match_that_is_no_version_is_428_and_a_list_holding_the_current_one_is_accepted(editor_api, demo):
    pledge = Pledge.objects.get(external_id="demo:uk-training")
    url, body = f"{PLEDGES}{pledge.pk}/", {"description": "x", "change_reason": "y"}
    for header in ("post_", "pledge-1-2", 'W/"pledge-1-2"', '"pledge-1-2",'):
        response = editor_api.patch(url, body, format="json", HTTP_IF_MATCH=header)
        assert response.status_code == 428, header
        assert "version" in response.json()["detail"]
    current = editor_api.get(url)["ETag"]
    response = editor_api.patch(url, body, format="json", HTTP_IF_MATCH=f'"pledge-{pledge.pk}-1", {current}')
    assert response.status_code == 200


def test_a_date_far_in_the_future_in_stored_data_takes_no_page_down(client, api, demo):
    pledge = Pledge.objects.get(external_id="demo:us-backstop")  # no status event to come before it
    Pledge.objects.filter(pk=pledge.pk).update(announced_on=datetime.date(9999, 12, 31))
    services.rebuild_periods([pledge.pk])
    services.bump_data_version()
    for url in ("/", "/coalitions/coalition-of-the-willing/", "/charts/coalition-of-the-willing/timeline.svg",
                "/embed/coalition-of-the-willing/timeline/"):
        assert client.get(url).status_code == 200, url
    assert api.get("/api/v1/summaries/by-month/").status_code == 200


def test_xlsx_downloads_keep_control_characters_visible_instead_of_failing(api, demo, editor_api):
    pledge = Pledge.objects.get(external_id="demo:uk-training")
    Pledge.objects.filter(pk=pledge.pk).update(description="Line one\x0bline two")
    services.bump_data_version()
    for url in (f"{PLEDGES}?format=xlsx", f"{PLEDGES}export/?format=xlsx", "/api/v1/sources/?format=xlsx",
                "/api/v1/summaries/totals/?format=xlsx"):
        response = api.get(url)
        assert response.status_code == 200, url
    cells = [c for row in load_workbook(io.BytesIO(api.get(f"{PLEDGES}?format=xlsx").content)).active.iter_rows(
        values_only=True) for c in row]
    assert "Line one\u240bline two" in cells
    written = editor_api.post(f"{PLEDGES}?format=xlsx", {"coalition": "coalition-of-the-willing", "nation": "france",
                                                         "kind": "military", "description": "Tab\x0bbed"},
                              format="json")
    assert written.status_code == 201


@pytest.mark.django_db(transaction=True)  # as served: each query its own transaction, so one failing aborts no other
def test_the_summary_cache_fails_open(client, api):
    from django.core.cache import caches

    call_command("load_demo")
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE tracker_cache")  # a deployment that never created it
    try:
        caches["local"].clear()
        assert client.get("/").status_code == 200
        assert api.get("/api/v1/summaries/by-nation/").status_code == 200
    finally:
        call_command("createcachetable")


def test_readers_never_see_a_source_nation_or_objective_that_only_drafts_use(client, api, alice, demo):
    coalition = Coalition.objects.get(slug="coalition-of-the-willing")
    secret_nation = services.save_record(Nation(name="Secretland", slug="secretland", country="AD"), user=alice)
    secret_source = SourceFactory(title="Secret memo")
    draft = PledgeFactory(coalition=coalition, nation=secret_nation, description="Draft only")
    draft.sources.add(secret_source)
    from tracker.commitments.models import Objective

    secret_objective = Objective.objects.create(coalition=coalition, title="Secret aim", slug="secret-aim")
    draft.objectives.add(secret_objective)
    assert client.get(f"/sources/{secret_source.pk}/").status_code == 404
    assert api.get(f"/api/v1/sources/{secret_source.pk}/").status_code == 404
    assert client.get("/nations/secretland/").status_code == 404
    assert "secretland" not in {n["slug"] for n in api.get("/api/v1/nations/", {"page_size": 1000}).json()["results"]}
    assert client.get("/coalitions/coalition-of-the-willing/objectives/secret-aim/").status_code == 404
    assert "secret-aim" not in {o["slug"] for o in api.get("/api/v1/objectives/").json()["results"]}
    # An aim editors set for the coalition, which no pledge serves yet, is public: it shows the gap.
    Objective.objects.create(coalition=coalition, title="Open aim", slug="open-aim")
    assert client.get("/coalitions/coalition-of-the-willing/objectives/open-aim/").status_code == 200


def test_draft_only_writes_move_neither_the_footer_nor_anonymous_etags(client, api, alice, rita, demo):
    public_before = selectors.data_version(public=True)
    etag = api.get("/api/v1/summaries/totals/")["ETag"]
    footer = client.get("/").content.decode().split("Data last updated")[1][:80]
    draft = Pledge.objects.get(publication="draft")
    draft.description = "Still a draft"
    services.save_record(draft, user=alice, reason="Draft edit")
    services.record_status_event(draft, user=alice, status="announced", occurred_on=draft.announced_on,
                                 source=SourceFactory())
    NationFactory(name="Newland")  # a nation no published pledge uses
    assert selectors.data_version(public=True) == public_before
    assert selectors.data_version()[0] > public_before[0]
    assert api.get("/api/v1/summaries/totals/", HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert client.get("/").content.decode().split("Data last updated")[1][:80] == footer
    draft.sources.add(SourceFactory())
    services.publish_pledge(draft, user=rita)  # now readers see it: everything moves
    assert selectors.data_version(public=True)[0] > public_before[0]
    assert api.get("/api/v1/summaries/totals/", HTTP_IF_NONE_MATCH=etag).status_code == 200
    services.unpublish_pledge(Pledge.objects.get(pk=draft.pk), user=rita)
    after_unpublish = selectors.data_version(public=True)
    assert after_unpublish[0] > public_before[0] + 1


def test_a_source_that_nothing_published_cites_is_hidden_until_a_published_pledge_cites_it(client, rita, demo):
    source = Source.objects.create(title="Fresh", publisher="MoD")
    assert client.get(f"/sources/{source.pk}/").status_code == 404
    pledge = Pledge.objects.get(external_id="demo:uk-training")
    pledge.sources.add(source)
    assert client.get(f"/sources/{source.pk}/").status_code == 200


@pytest.mark.parametrize("value", [80000000, 0.1, "1e3", "+5", "-5", "12.", "", " 5"])
def test_amounts_are_strings_of_digits_anything_else_is_a_400_naming_the_field(editor_api, demo, value):
    body = {"coalition": "coalition-of-the-willing", "nation": "france", "kind": "military",
            "description": "Radars", "amount": value, "currency": "EUR", "announced_on": "2025-06-01"}
    response = editor_api.post(PLEDGES, body, format="json")
    assert response.status_code == 400 and "amount" in response.json(), (value, response.content)
    assert editor_api.post(PLEDGES, {**body, "amount": "80000000.50"}, format="json").status_code == 201


def test_a_parameter_left_empty_counts_as_not_given(api, demo):
    everything = api.get(PLEDGES).json()
    empty = api.get(PLEDGES, {"page_size": "", "cursor": "", "ordering": "", "nation": "", "as_of": ""})
    assert empty.status_code == 200 and empty.json()["results"] == everything["results"]
    summary = api.get("/api/v1/summaries/by-nation/", {"year": "", "stage": ""})
    assert summary.status_code == 200
    assert summary.json()["results"] == api.get("/api/v1/summaries/by-nation/").json()["results"]


def test_one_pledge_refuses_parameters_it_does_not_take_and_bad_dates(api, demo):
    pledge = Pledge.objects.filter(publication="published").first()
    for params, field in (({"nation": "france"}, "nation"), ({"as_of": "soon"}, "as_of"),
                          ({"as_of": "2999-01-01"}, "as_of")):
        response = api.get(f"{PLEDGES}{pledge.pk}/", params)
        assert response.status_code == 400 and field in response.json(), params
    assert api.get(f"{PLEDGES}{pledge.pk}/", {"as_of": "2025-06-30"}).status_code == 200


def test_an_unknown_api_path_is_a_json_404_and_a_page_one_is_html(api, client, db):
    response = api.get("/api/v1/objectives/%0A%C2%95/")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}
    page = client.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_rules_across_fields_name_the_fields_that_can_satisfy_them(editor_api, demo):
    state = editor_api.post("/api/v1/nations/", {"name": "Atlantis", "slug": "atlantis", "kind": "state"},
                            format="json")
    assert state.status_code == 400 and "country" in state.json()
    source = editor_api.post("/api/v1/sources/", {"title": "A rumour", "url": "", "publisher": " "}, format="json")
    assert source.status_code == 400 and {"url", "publisher"} <= set(source.json())
