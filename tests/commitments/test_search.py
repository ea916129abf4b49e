"""Search finds whole words of the same stem, in a pledge's description, condition, status notes, contributor and
cited sources' titles, best matches first: the same rule in the admin, on the reader pages and in the API, on SQLite
and on PostgreSQL (run this file with DATABASE_URL=postgres://... for the latter)."""
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import NationFactory, PledgeFactory, SourceFactory, StatusEventFactory
from tracker.commitments import search
from tracker.commitments.models import Pledge
from tracker.commitments.search import RANK, by_rank, search_pledges

pytestmark = pytest.mark.django_db
PLEDGES_API = "/api/v1/pledges/"
CHANGELIST_URL = reverse("admin:commitments_pledge_changelist")
AIR_DEFENCE = {"Air-defence systems and ammunition.",
               "Intelligence, airlift and air-defence backstop for the European-led force."}


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def editor_api(alice):
    client = APIClient()
    client.force_authenticate(alice)
    return client


def found(text, pledges=None):
    """Descriptions of the pledges `text` finds, best first (the latest announced first among equals)."""
    pledges = Pledge.objects.all() if pledges is None else pledges
    return [p.description for p in by_rank(search_pledges(pledges, text), "-announced_on", "-id")]


def api_found(client, text, **params):
    response = client.get(PLEDGES_API, {"search": text, "page_size": 1000, **params})
    assert response.status_code == 200, response.content
    return [p["description"] for p in response.json()["results"]]


def site_found(client, text):
    """Descriptions on the reader's pledge list, in the order listed."""
    response = client.get("/pledges/", {"search": text})
    assert response.status_code == 200
    return [re.sub(r"\s+", " ", d) for d in
            re.findall(r'<td data-label="Pledge"><a href="/pledges/\d+/">([^<]*)</a>', response.content.decode())]


def admin_found(client, text, **params):
    response = client.get(CHANGELIST_URL, {"q": text, **params})
    assert response.status_code == 200
    return [p.description for p in response.context["cl"].result_list]


def published(**fields):
    return PledgeFactory(publication="published", published_at="2025-03-03T00:00:00Z", **fields)


def test_a_word_is_not_found_inside_another_word(client, api, demo):
    assert "Funding for Ukraine's defence industry and repair of equipment." not in found("air")
    assert set(found("air")) == AIR_DEFENCE | {"Fighter aircraft for air policing over western Ukraine."}
    assert found("repair") == ["Funding for Ukraine's defence industry and repair of equipment."]
    assert "Funding for Ukraine's defence industry and repair of equipment." not in api_found(api, "air")
    assert "Funding for Ukraine's defence industry and repair of equipment." not in site_found(client, "air")


def test_words_apart_find_them_hyphenated_and_case_does_not_matter(client, api, sam, demo):
    for text in ("air defence", "Air-defence", "AIR DEFENCE", "defence, air"):
        assert set(found(text)) == AIR_DEFENCE, text
        assert set(api_found(api, text)) == AIR_DEFENCE, text
        assert set(site_found(client, text)) == AIR_DEFENCE, text
    client.force_login(sam)
    assert set(admin_found(client, "air defence")) == AIR_DEFENCE


def test_any_form_of_a_word_finds_the_others():
    truck = published(description="Supply truck for the brigade")
    trucks = published(description="Trucks and trailers", announced_on="2025-01-01")
    supplies = published(description="Medical supplies")
    assert set(found("trucks")) == {truck.description, trucks.description}
    assert set(found("truck")) == {truck.description, trucks.description}
    assert set(found("supply")) == {truck.description, supplies.description}
    assert set(found("supplies")) == {truck.description, supplies.description}
    assert found("trailer") == [trucks.description]


def test_conditions_status_notes_contributors_and_cited_sources_titles_are_searched():
    conditional = published(description="Engineers", is_conditional=True, condition="after parliamentary approval")
    noted = published(description="Radar systems")
    StatusEventFactory(pledge=noted, note="First convoy reached Lviv", source=SourceFactory(title="Daily bulletin"))
    cited = published(description="Generators", nation=NationFactory(name="Moldova"))
    cited.sources.add(SourceFactory(title="Ministry bulletin on howitzers"))
    assert found("approvals parliamentary") == [conditional.description]
    assert found("convoys Lviv") == [noted.description]
    assert found("howitzer") == [cited.description]
    assert found("moldova") == [cited.description]
    assert found("radar convoy") == [noted.description]  # words found in different places of one pledge
    assert found("radar howitzer") == []  # every word must be found


def test_the_better_match_comes_first(client, api, sam):
    in_title = published(description="Generators", announced_on="2025-06-01")
    in_title.sources.add(SourceFactory(title="Report on howitzers"))
    in_note = published(description="Ammunition", announced_on="2025-05-01")
    StatusEventFactory(pledge=in_note, note="howitzer shells shipped", source=SourceFactory(title="Bulletin"),
                       occurred_on="2025-05-02")
    in_condition = published(description="Training", is_conditional=True, condition="once howitzers arrive",
                             announced_on="2025-04-01")
    in_description = published(description="Towed howitzers", announced_on="2025-01-01")  # the oldest
    best_first = [p.description for p in (in_description, in_condition, in_note, in_title)]
    assert found("howitzers") == best_first
    assert site_found(client, "howitzers") == best_first
    client.force_login(sam)
    assert admin_found(client, "howitzers") == best_first
    # A column the editor sorts by wins over relevance: here the description (column 1, after the checkbox).
    assert admin_found(client, "howitzers", o="1") == ["Ammunition", "Generators", "Towed howitzers", "Training"]
    ranks = search_pledges(Pledge.objects.all(), "howitzers").values_list(RANK, flat=True)
    assert all(rank > 0 for rank in ranks)


def test_anonymous_readers_never_find_drafts(client, api, editor_api, demo):
    draft = Pledge.objects.get(publication="draft")
    assert draft.description == "Engineering experts for demining (draft: awaiting review)."
    for text in ("engineering experts", "demining", "draft awaiting review"):
        assert api_found(api, text) == [], text
        assert site_found(client, text) == [], text
        assert draft.description not in client.get("/pledges/", {"search": text}).content.decode()
    assert api_found(editor_api, "demining") == [draft.description]  # editors see drafts in the API


def test_staff_find_no_drafts_on_reader_pages_either(client, alice, demo):
    client.force_login(alice)
    assert site_found(client, "demining") == []
    assert admin_found(client, "demining") == ["Engineering experts for demining (draft: awaiting review)."]


def test_searches_with_nothing_to_find_find_nothing_and_nul_bytes_are_a_400_naming_search(client, api, demo):
    for text in ("!!! ---", "the of and", "a" * (search.MAX_LENGTH + 1), "air " * 300,
                 " ".join(f"word{n}" for n in range(search.MAX_WORDS + 1)), "%", "_", "\\", "(", "[a-z]*"):
        assert found(text) == [], text
        assert api_found(api, text) == [], text
        assert site_found(client, text) == [], text
    response = api.get(PLEDGES_API, {"search": "air\x00defence"})
    assert response.status_code == 400 and "search" in response.json()
    response = client.get("/pledges/", {"search": "air\x00defence"})
    assert response.status_code == 400 and "<strong>search</strong>" in response.content.decode()
    assert api.get("/api/v1/summaries/totals/", {"search": "air\x00"}).status_code == 400


def test_admin_search_with_nothing_to_find_lists_nothing(client, sam, demo):
    client.force_login(sam)
    assert admin_found(client, "!!!") == []
    assert admin_found(client, "x" * 5000) == []


def test_search_as_you_type_in_the_admin_finds_words_the_last_one_begins(client, sam, demo):
    client.force_login(sam)
    response = client.get(reverse("admin:autocomplete"), {
        "term": "air-def", "app_label": "commitments", "model_name": "statusevent", "field_name": "pledge"})
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == 2
    assert admin_found(client, "air-def") == []  # the changelist's search box searches whole words


def test_summaries_count_what_a_search_finds(api, demo):
    totals = api.get("/api/v1/summaries/totals/", {"search": "air defence"}).json()["results"][0]
    assert totals["pledges"] == 2
    by_nation = api.get("/api/v1/summaries/by-nation/", {"search": "air defence"}).json()["results"]
    assert {row["key"] for row in by_nation} == {"denmark", "united-states"}


def test_the_number_of_queries_does_not_grow_with_the_number_found(client, api):
    def pledges(count):
        for n in range(count):
            pledge = published(description=f"Howitzer shells, lot {n}")
            pledge.sources.add(SourceFactory(title=f"Howitzer report {n}"))
            StatusEventFactory(pledge=pledge, note="howitzer shells delivered", source=pledge.sources.first())

    def queries(url):
        assert client.get(url).status_code == 200  # what is cached for this data version (counts) is cached
        with CaptureQueriesContext(connection) as context:
            assert client.get(url).status_code == 200
        return len(context.captured_queries)

    urls = ["/pledges/?search=howitzer+shells", f"{PLEDGES_API}?search=howitzer+shells"]
    pledges(2)
    few = [queries(url) for url in urls]
    pledges(20)
    assert client.get(urls[0]).content.decode().count('data-label="Pledge"') == 22
    assert [queries(url) for url in urls] == few


@pytest.mark.parametrize(("text", "word", "same"), [
    ("truck", "trucks", True), ("trucks", "truck", True), ("supply", "supplies", True), ("supplies", "supply", True),
    ("defence", "defences", True), ("policing", "police", True), ("ceasefires", "ceasefire", True),
    ("air", "repair", False), ("air", "aircraft", False), ("air", "Air-defence", True), ("class", "classes", True),
])
def test_sqlite_crude_stems_find_the_usual_forms_of_a_word(text, word, same):
    assert bool(re.search("(?i)" + search.word_pattern(text), word)) is same


@pytest.mark.skipif(connection.vendor != "postgresql", reason="GIN indexes exist on PostgreSQL only")
def test_postgresql_looks_words_up_in_the_gin_indexes(demo):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the demo's tables are small: ask whether it *can*
    plan = search_pledges(Pledge.objects.filter(publication="published"), "air defence").explain()
    for index in ("commitments_pledge_search", "commitments_statusevent_note_search",
                  "commitments_source_title_search"):
        assert index in plan, plan
