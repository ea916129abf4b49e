import pytest
from django.core.management import call_command
from django.urls import reverse

from tracker.commitments.models import Pledge

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    call_command("load_demo")


def test_home_shows_the_demo_coalition_and_its_totals(client, demo):
    page = client.get("/").content.decode()
    assert "Coalition of the willing (Ukraine)" in page
    assert "delivered" in page
    assert "example" in page
    assert "undisclosed" in page


def test_anonymous_reader_never_sees_draft_pledges(client, demo):
    draft = Pledge.objects.get(publication="draft")
    assert draft.description not in client.get("/").content.decode()
    assert client.get(reverse("site:pledge", args=[draft.pk])).status_code == 404


def test_staff_see_no_drafts_on_reader_pages_either(client, demo, alice):
    client.force_login(alice)
    draft = Pledge.objects.get(publication="draft")
    assert client.get(reverse("site:pledge", args=[draft.pk])).status_code == 404


def test_pledge_page_shows_its_status_timeline_and_sources(client, demo):
    pledge = Pledge.objects.get(external_id="demo:uk-training")
    page = client.get(reverse("site:pledge", args=[pledge.pk])).content.decode()
    assert "Partially delivered" in page
    assert "250,000,000.00 GBP" in page and "3 Mar 2025" in page
    assert "Illustrative example data" in page


def test_home_query_count_does_not_grow_with_pledges(client, demo, django_assert_max_num_queries):
    from tests.factories import PledgeFactory

    coalition = Pledge.objects.first().coalition
    client.get("/")
    with django_assert_max_num_queries(4):
        client.get("/")
    PledgeFactory.create_batch(30, coalition=coalition, publication="published",
                               published_at="2025-01-01T00:00:00Z")
    with django_assert_max_num_queries(4):
        client.get("/")
