"""The Atom feeds: what readers can see change, and nothing a draft did."""
import datetime
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from tests.factories import PledgeFactory, StatusEventFactory
from tracker.commitments import services
from tracker.commitments.models import Nation, Pledge

pytestmark = pytest.mark.django_db
ATOM = "{http://www.w3.org/2005/Atom}"
FEED = "/feeds/changes.atom"


def entries(client, path=FEED):
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    return [{"title": e.findtext(f"{ATOM}title"), "id": e.findtext(f"{ATOM}id"),
             "link": e.find(f"{ATOM}link").get("href"), "summary": e.findtext(f"{ATOM}summary")}
            for e in feed.iter(f"{ATOM}entry")]


def test_a_feed_reader_picks_up_a_publication_and_nothing_of_the_draft_before_it(client, demo, alice, rita):
    pledge = PledgeFactory(coalition=Pledge.objects.first().coalition, nation=Nation.objects.get(slug="france"),
                           description="Air-defence radars")
    pledge.sources.add(pledge.coalition.pledges.first().sources.first())
    pledge.description = "Air-defence radars, second draft"
    services.save_record(pledge, user=alice, reason="Secret draft wording")
    assert "Air-defence radars" not in str(entries(client))

    services.publish_pledge(pledge, user=rita, reason="Confirmed by the ministry")
    newest = entries(client)[0]
    assert newest["title"] == "France: published: Air-defence radars, second draft"
    assert newest["link"] == f"http://testserver/pledges/{pledge.pk}/"
    assert newest["id"].startswith("tag:testserver,2025:change-")
    assert "Confirmed by the ministry" in newest["summary"]
    assert "Secret draft wording" not in str(entries(client))
    assert newest in entries(client, "/feeds/nations/france.atom")
    assert newest in entries(client, "/feeds/coalitions/coalition-of-the-willing.atom")
    assert all("France" in e["title"] for e in entries(client, "/feeds/nations/france.atom"))


def test_corrections_to_a_released_figure_say_which_release_they_correct(client, demo, rita):
    pledge = Pledge.objects.filter(publication="published", amount__isnull=False).order_by("id").first()
    services.cut_release(user=rita, title="One")
    pledge.amount += Decimal("1000000")
    services.save_record(pledge, user=rita, reason="Ministry corrected the figure")
    StatusEventFactory(pledge=pledge, status="delivered", occurred_on=datetime.date(2026, 1, 5))
    titles = [e["title"] for e in entries(client)]
    nation = pledge.nation.name
    assert titles[0].startswith(f"{nation}: new stage:")
    assert titles[1].startswith(f"{nation}: corrected (release 1 showed the earlier figure):")
    assert titles[2] == "Release 1: One"
    correction = entries(client)[1]["summary"]
    assert f"Amount: {pledge.currency} {pledge.amount - 1000000:,} → {pledge.currency} {pledge.amount:,}" in correction
    assert "Ministry corrected the figure" in correction


def test_a_withdrawal_is_announced_but_the_drafts_edits_after_it_are_not(client, demo, rita, alice):
    pledge = Pledge.objects.filter(publication="published").order_by("-id").first()
    services.unpublish_pledge(pledge, user=rita, reason="The source retracted it")
    pledge.description = "Rewritten while a draft"
    services.save_record(pledge, user=alice, reason="Draft edit")
    newest = entries(client)[0]
    assert newest["title"].startswith(f"{pledge.nation.name}: withdrawn:")
    assert "The source retracted it" in newest["summary"]
    assert "Rewritten while a draft" not in str(entries(client)) and "Draft edit" not in str(entries(client))


def test_every_page_advertises_the_feed_and_its_own(client, demo):
    home = client.get("/").content.decode()
    assert '<link rel="alternate" type="application/atom+xml" title="Changes: the whole tracker" ' \
           'href="/feeds/changes.atom">' in home
    assert 'href="/feeds/coalitions/coalition-of-the-willing.atom"' in home
    assert 'href="/feeds/nations/france.atom"' in client.get("/nations/france/").content.decode()
    assert 'type="application/atom+xml"' in client.get("/methodology/").content.decode()


def test_a_nation_with_only_drafts_has_no_feed(client, demo):
    draft = PledgeFactory(nation__name="Ruritania", nation__slug="ruritania")
    assert draft.publication == "draft"
    assert client.get("/feeds/nations/ruritania.atom").status_code == 404
    assert client.get("/feeds/coalitions/nowhere.atom").status_code == 404


def test_the_api_lists_what_changed_since_an_instant(client, demo, rita):
    mark = datetime.datetime.now(datetime.UTC)
    pledge = Pledge.objects.filter(publication="published").order_by("id").first()
    pledge.description += " (corrected)"
    services.save_record(pledge, user=rita, reason="Wording")
    since = {"updated_since": mark.isoformat()}
    assert [p["id"] for p in client.get("/api/v1/pledges/", since).json()["results"]] == [pledge.pk]
    assert client.get("/api/v1/nations/", since).json()["results"] == []
    response = client.get("/api/v1/sources/", {"updated_since": "last tuesday"})
    assert response.status_code == 400 and set(response.json()) == {"updated_since"}


def test_a_nations_feed_shows_no_draft_wording_of_a_pledge_that_moved_between_nations(client, demo, rita, alice):
    pledge = Pledge.objects.filter(publication="published", nation__slug="france").first()
    pledge.nation = Nation.objects.get(slug="germany")
    services.save_record(pledge, user=alice, reason="Moved to Germany")
    services.unpublish_pledge(pledge, user=rita, reason="Withdrawn for checks")
    pledge.description = "Draft only wording"
    pledge.nation = Nation.objects.get(slug="france")
    services.save_record(pledge, user=alice, reason="Draft only reason")
    for path in ("/feeds/nations/france.atom", "/feeds/nations/germany.atom", FEED):
        text = str(entries(client, path))
        assert "Draft only wording" not in text and "Draft only reason" not in text, path
    assert entries(client, "/feeds/nations/germany.atom")[0]["title"].startswith("Germany: withdrawn:")
