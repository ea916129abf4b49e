"""One save, one history entry, read as an editor reads it: admin form, API write and status event alike."""
import datetime

import pytest
from django.urls import reverse

from tests.admin_forms import admin_form_data
from tests.commitments.test_admin import add_pledge, adding_prefix, change_url
from tests.factories import SourceFactory
from tracker.commitments import services
from tracker.commitments.models import Pledge, StatusEvent

pytestmark = pytest.mark.django_db


def history_page(client, pledge):
    return client.get(reverse("admin:commitments_pledge_history", args=[pledge.pk]))


def entries(response):
    return [(r.history_change_reason, r.readable_changes) for r in response.context["page_obj"]]


def test_adding_a_pledge_with_its_source_and_a_status_event_in_the_admin_is_one_entry(client, alice, world):
    client.force_login(alice)
    page = client.get(reverse("admin:commitments_pledge_add"))
    events = adding_prefix(page, "statusevent")
    response = add_pledge(client, world, **{
        f"{events}-0-status": "committed", f"{events}-0-occurred_on": "2025-03-10",
        f"{events}-0-source": str(world["source"].pk)})
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    pledge = Pledge.objects.get()
    assert pledge.history.count() == 1
    entry = pledge.history.get()
    assert (entry.history_type, entry.history_user, entry.history_change_reason) == ("+", alice, "Created")
    assert [row.source_id for row in entry.sources.all()] == [world["source"].pk]
    assert entry.status == "committed"  # the entry holds the pledge as the save left it

    lines = dict((what, new) for what, _old, new in entries(history_page(client, pledge))[0][1])
    assert lines["Sources"] == str(world["source"]) == "Prime Minister's statement (Ministry of Defence, 2025-03-01)"
    assert lines["Added status event"] == f"Committed, 10 Mar 2025, source: {world['source']}"
    assert lines["Amount"] == "250,000,000.00"


def test_changing_fields_and_sources_in_the_admin_reads_as_one_diff_with_titles(client, alice, world):
    client.force_login(alice)
    add_pledge(client, world)
    pledge = Pledge.objects.get()
    second = SourceFactory(title="Defence committee minutes")
    page = client.get(change_url(pledge))
    prefix = adding_prefix(page, "pledge_sources")
    response = client.post(change_url(pledge), admin_form_data(
        page, amount="300000000", change_reason="Ministry raised the figure", change_source=second.pk,
        **{f"{prefix}-0-source": str(second.pk)}))
    assert response.status_code == 302
    assert pledge.history.count() == 2

    reason, lines = entries(history_page(client, pledge))[0]
    assert reason == "Ministry raised the figure"
    assert ("Amount", "250,000,000.00", "300,000,000.00") in lines
    assert ("Sources", "", f"added: {second}") in lines
    assert not any("object (" in str(line) or "updated" in line[0].lower() for line in lines)
    assert history_page(client, pledge).context["page_obj"][0].history_source == second


def test_recording_a_status_event_is_an_entry_of_its_pledge_showing_the_event(client, rita, world):
    pledge = services.save_record(Pledge(coalition=world["coalition"], nation=world["uk"], kind="training",
                                         description="Training", announced_on=datetime.date(2025, 3, 1)),
                                  user=rita, reason="Created")
    services.record_status_event(pledge, user=rita, status="delivered", occurred_on=datetime.date(2025, 6, 30),
                                 source=world["source"], reason="Delivery confirmed")
    assert pledge.history.count() == 2
    event = StatusEvent.objects.get()
    assert event.history.get().history_date == pledge.history.first().history_date
    client.force_login(rita)
    reason, lines = entries(history_page(client, pledge))[0]
    assert reason == "Delivery confirmed"
    assert ("Status", "Unverified", "Delivered") in lines
    assert ("Added status event", "", f"Delivered, 30 Jun 2025, source: {world['source']}") in lines


def test_only_reviewers_may_revert_and_a_revert_is_an_entry_of_its_own(client, alice, rita, world):
    client.force_login(alice)
    add_pledge(client, world)
    pledge = Pledge.objects.get()
    page = client.get(change_url(pledge))
    client.post(change_url(pledge), admin_form_data(page, amount="300000000", change_reason="Typo"))
    first = pledge.history.last()
    revert_url = reverse("admin:commitments_pledge_simple_history", args=[pledge.pk, first.pk])
    assert "revert to this version" not in history_page(client, pledge).text
    assert client.get(revert_url).status_code == 403

    client.force_login(rita)
    assert "revert to this version" in history_page(client, pledge).text
    form = client.get(revert_url)
    assert form.status_code == 200
    response = client.post(revert_url, admin_form_data(form, change_reason="Back to the announced figure"))
    assert response.status_code == 302
    pledge.refresh_from_db()
    assert pledge.amount == 250_000_000
    assert pledge.history.count() == 3
    assert pledge.history.first().history_change_reason == "Back to the announced figure"
    assert pledge.history.first().history_user == rita


def test_looking_at_a_pledge_in_the_admin_writes_nothing(client, alice, world):
    from tracker.commitments import selectors

    client.force_login(alice)
    add_pledge(client, world)
    pledge = Pledge.objects.get()
    version, entries_before = selectors.data_version(), pledge.history.count()
    assert client.get(change_url(pledge)).status_code == 200
    assert history_page(client, pledge).status_code == 200
    assert selectors.data_version() == version
    assert pledge.history.count() == entries_before
