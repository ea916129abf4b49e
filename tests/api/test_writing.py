import pytest
from django.conf import settings
from django.test import override_settings

from tests.factories import SourceFactory
from tracker.api.models import ApiToken
from tracker.commitments.models import Coalition, Nation, Objective, Pledge

pytestmark = pytest.mark.django_db
PLEDGES = "/api/v1/pledges/"


def new_pledge_body(**changes):
    body = {
        "coalition": "coalition-of-the-willing", "nation": "united-kingdom", "kind": "military",
        "description": "Air-defence interceptors", "quantity": "40", "unit": "missiles",
        "amount": "120000000", "currency": "GBP", "announced_on": "2025-03-01",
        "objectives": [Objective.objects.get(slug="air-superiority").pk],
        "sources": [SourceFactory(title="MoD press release").pk],
    }
    body.update(changes)
    return body


def test_editor_creates_a_draft_pledge_valued_in_eur_with_history(editor_api, alice, demo):
    response = editor_api.post(PLEDGES, new_pledge_body(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["publication"], body["eur_rate"], body["eur_rate_date"]) == ("draft", "0.826080", "2025-02-28")
    assert body["eur_value"] == "145264381.17"  # 120,000,000 / 0.82608
    assert response["ETag"] == body["version"]
    pledge = Pledge.objects.get(pk=body["id"])
    assert pledge.history.earliest().history_user == alice


def test_fields_a_caller_may_not_set_are_refused(editor_api, demo):
    response = editor_api.post(PLEDGES, new_pledge_body(publication="published", id=999, status="delivered",
                                                        eur_value="1"), format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"publication", "id", "status", "eur_value"}
    assert not Pledge.objects.filter(description="Air-defence interceptors").exists()


def test_anonymous_and_token_less_writes_are_refused(api, demo):
    assert api.post(PLEDGES, new_pledge_body(), format="json").status_code == 401
    pledge = Pledge.objects.first()
    assert api.patch(f"{PLEDGES}{pledge.pk}/", {"description": "x"}, format="json").status_code == 401


def test_revoked_token_is_refused(api, alice, demo):
    token, key = ApiToken.issue(alice, "old script")
    token.revoke()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.post(PLEDGES, new_pledge_body(), format="json").status_code == 401
    assert ApiToken.objects.get(pk=token.pk).secret_hash != key.split(".")[1]  # only a hash is stored


def test_update_needs_if_match_and_a_stale_one_changes_nothing(editor_api, demo):
    pledge = Pledge.objects.get(external_id="demo:uk-training")
    url = f"{PLEDGES}{pledge.pk}/"
    etag = editor_api.get(url)["ETag"]
    change = {"quantity": "2500", "change_reason": "Ministry update"}

    assert editor_api.patch(url, change, format="json").status_code == 428
    assert editor_api.patch(url, change, format="json", HTTP_IF_MATCH='"pledge-1-0"').status_code == 412
    pledge.refresh_from_db()
    assert pledge.quantity == 2000

    response = editor_api.patch(url, change, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200, response.json()
    assert response.json()["quantity"] == "2500.00"
    assert editor_api.patch(url, {"quantity": "2600", "change_reason": "again"}, format="json",
                            HTTP_IF_MATCH=etag).status_code == 412  # the old ETag is stale now
    assert pledge.history.latest().history_change_reason == "Ministry update"


def test_update_without_a_reason_is_refused(editor_api, demo):
    pledge = Pledge.objects.get(external_id="demo:uk-training")
    url = f"{PLEDGES}{pledge.pk}/"
    response = editor_api.patch(url, {"quantity": "2500"}, format="json", HTTP_IF_MATCH=editor_api.get(url)["ETag"])
    assert response.status_code == 400 and "change_reason" in response.json()


def test_status_event_through_the_api_moves_the_status(editor_api, demo):
    pledge = Pledge.objects.get(external_id="demo:no-maritime")
    url = f"{PLEDGES}{pledge.pk}/"
    source = SourceFactory()
    response = editor_api.post(f"{url}status-events/", {"status": "committed", "occurred_on": "2025-07-01",
                                                        "source": source.pk, "change_reason": "Budget passed"},
                               format="json", HTTP_IF_MATCH=editor_api.get(url)["ETag"])
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "committed"
    assert pledge.history.latest().history_change_reason == "Budget passed"
    too_early = editor_api.post(f"{url}status-events/", {"status": "stalled", "occurred_on": "2020-01-01",
                                                         "source": source.pk}, format="json",
                                HTTP_IF_MATCH=response["ETag"])
    assert too_early.status_code == 400 and "occurred_on" in too_early.json()


def test_only_reviewers_publish_through_the_api(editor_api, reviewer_api, api, demo):
    draft = Pledge.objects.get(publication="draft")
    draft.sources.add(SourceFactory())
    url = f"{PLEDGES}{draft.pk}/"
    etag = editor_api.get(url)["ETag"]
    assert editor_api.post(f"{url}publish/", HTTP_IF_MATCH=etag).status_code == 403
    assert api.post(f"{url}publish/").status_code == 401
    response = reviewer_api.post(f"{url}publish/", HTTP_IF_MATCH=etag)
    assert response.status_code == 200 and response.json()["publication"] == "published"
    assert api.get(url).status_code == 200


def test_publishing_without_a_source_says_why(reviewer_api, demo):
    draft = Pledge.objects.get(publication="draft")
    draft.sources.clear()
    url = f"{PLEDGES}{draft.pk}/"
    response = reviewer_api.post(f"{url}publish/", HTTP_IF_MATCH=reviewer_api.get(url)["ETag"])
    assert response.status_code == 400 and "source" in str(response.json())


@pytest.mark.parametrize("changes, field", [
    ({"amount": "-1"}, "amount"), ({"amount": "1e400"}, "amount"), ({"amount": "NaN"}, "amount"),
    ({"currency": "XYZ"}, "currency"), ({"announced_on": "2025-02-30"}, "announced_on"),
    ({"announced_on": "not a date"}, "announced_on"), ({"description": "nul\u0000byte"}, "description"),
    ({"quantity": 10**30}, "quantity"), ({"quantity": "abc"}, "quantity"), ({"nation": "atlantis"}, "nation"),
    ({"kind": 5}, "kind"), ({"objectives": "air"}, "objectives"), ({"quantity_undisclosed": True}, "quantity"),
    ({"earmarked_from": 2026, "earmarked_to": 2025}, "earmarked_to"), ({"is_conditional": True}, "condition"),
])
def test_bad_values_get_400_naming_the_field_and_save_nothing(editor_api, demo, changes, field):
    before = Pledge.objects.count()
    response = editor_api.post(PLEDGES, new_pledge_body(**changes), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert Pledge.objects.count() == before


@pytest.mark.parametrize("raw", [b'{"amount": NaN}', b'{"amount": Infinity}', b"{not json", b"\xff\xfe",
                                 b'{"quantity": 123456789012345678901234567890}'])
def test_malformed_json_is_a_400(editor_api, demo, raw):
    response = editor_api.post(PLEDGES, raw, content_type="application/json")
    assert response.status_code == 400


def test_oversized_body_is_413_and_wrong_content_type_is_415(editor_api, demo, settings):
    settings.API_MAX_BODY_BYTES = 1000
    big = new_pledge_body(description="x" * 2000)
    assert editor_api.post(PLEDGES, big, format="json").status_code == 413
    assert editor_api.post(PLEDGES, "a=b", content_type="application/x-www-form-urlencoded").status_code == 415


def test_editors_create_other_records_with_history(editor_api, alice, demo):
    response = editor_api.post("/api/v1/nations/", {"name": "Latvia", "slug": "latvia", "kind": "state",
                                                    "code": "lv"}, format="json")
    assert response.status_code == 201, response.json()
    latvia = Nation.objects.get(slug="latvia")
    assert latvia.country.code == "LV" and latvia.history.get().history_user == alice
    coalition = Coalition.objects.get()
    url = f"/api/v1/coalitions/{coalition.slug}/"
    response = editor_api.patch(url, {"description": "New text", "change_reason": "Copy edit"}, format="json",
                                HTTP_IF_MATCH=editor_api.get(url)["ETag"])
    assert response.status_code == 200, response.json()
    assert editor_api.post("/api/v1/nations/", {"name": "Nowhere", "slug": "nowhere", "kind": "state"},
                           format="json").status_code == 400  # a state needs its ISO code


def test_anonymous_requests_are_throttled_with_retry_after(api, demo, monkeypatch):
    from tracker.api.permissions import AnonThrottle

    monkeypatch.setattr(AnonThrottle, "rate", "3/minute", raising=False)
    monkeypatch.setattr(AnonThrottle, "timer", lambda self: 1_000_040.0)  # 20 s into a minute window
    codes = [api.get("/api/v1/coalitions/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert int(api.get("/api/v1/coalitions/")["Retry-After"]) == 40  # seconds left in that minute


def test_a_forged_forwarded_for_header_does_not_escape_the_rate_limit(api, demo, monkeypatch):
    from tracker.api.permissions import AnonThrottle

    monkeypatch.setattr(AnonThrottle, "rate", "3/minute", raising=False)
    monkeypatch.setattr(AnonThrottle, "timer", lambda self: 2_000_040.0)
    codes = [api.get("/api/v1/coalitions/", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(4)]
    assert codes == [200, 200, 200, 429]


@override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": 1})
def test_behind_a_trusted_proxy_each_client_address_has_its_own_limit(api, demo, monkeypatch):
    from tracker.api.permissions import AnonThrottle

    monkeypatch.setattr(AnonThrottle, "rate", "2/minute", raising=False)
    monkeypatch.setattr(AnonThrottle, "timer", lambda self: 3_000_040.0)
    # The proxy appends the address it saw; what the client wrote before it does not count.
    first = [api.get("/api/v1/coalitions/", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}, 203.0.113.7").status_code
             for n in range(3)]
    other = api.get("/api/v1/coalitions/", HTTP_X_FORWARDED_FOR="203.0.113.8").status_code
    assert first == [200, 200, 429] and other == 200


def test_a_revised_figure_counts_from_the_date_the_editor_gives(editor_api, demo):
    pledge = Pledge.objects.get(external_id="demo:nl-mine-clearance")  # EUR 150 m since 1 April 2025
    url = f"{PLEDGES}{pledge.pk}/"
    response = editor_api.patch(url, {"amount": "180000000", "change_reason": "Raised", "figures_effective_on":
                                      "2025-07-01"}, format="json", HTTP_IF_MATCH=editor_api.get(url)["ETag"])
    assert response.status_code == 200, response.json()
    assert editor_api.get(url, {"as_of": "2025-06-30"}).json()["eur_value"] == "150000000.00"
    assert editor_api.get(url, {"as_of": "2025-07-01"}).json()["eur_value"] == "180000000.00"
    future = editor_api.patch(url, {"amount": "1", "change_reason": "x", "figures_effective_on": "2999-01-01"},
                              format="json", HTTP_IF_MATCH=editor_api.get(url)["ETag"])
    assert future.status_code == 400 and "figures_effective_on" in future.json()


@pytest.mark.django_db(transaction=True)  # counted as served: the request's transaction is not a savepoint
def test_a_patch_of_fields_and_links_is_one_history_entry_one_version_bump_and_at_most_30_statements(
        editor_api):
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tracker.commitments import selectors

    call_command("load_demo")
    pledge = Pledge.objects.get(external_id="demo:uk-training")
    objective = Objective.objects.exclude(pledges=pledge).first()
    cited, second = pledge.sources.first(), SourceFactory(title="Ministry statement")
    url = f"{PLEDGES}{pledge.pk}/"
    etag, before, version = editor_api.get(url)["ETag"], pledge.history.count(), selectors.data_version()[0]
    with CaptureQueriesContext(connection) as statements:
        response = editor_api.patch(url, {
            "description": "Training of recruits", "amount": "120000000", "objectives": [objective.pk],
            "sources": [cited.pk, second.pk], "change_reason": "New figure", "change_source": second.pk,
        }, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200, response.content
    assert pledge.history.count() == before + 1
    assert selectors.data_version()[0] == version + 1
    work = [q["sql"] for q in statements.captured_queries
            if not q["sql"].startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT"))]
    assert len(work) <= 30, "\n".join(sql[:100] for sql in work)  # 112 before one save was one entry
    entry = pledge.history.first()
    assert (entry.history_change_reason, entry.history_source, entry.description) == (
        "New figure", second, "Training of recruits")
    assert sorted(row.source_id for row in entry.sources.all()) == sorted([cited.pk, second.pk])
    assert [row.objective_id for row in entry.objectives.all()] == [objective.pk]
