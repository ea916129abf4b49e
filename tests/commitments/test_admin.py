"""The editors' admin, driven as an editor or reviewer would drive it."""
import datetime
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.admin_forms import admin_form_data
from tests.factories import (
    CoalitionFactory,
    MembershipFactory,
    NationFactory,
    NationFiguresFactory,
    ObjectiveFactory,
    PledgeFactory,
    SourceFactory,
    StatusEventFactory,
)
from tracker.commitments.models import Pledge

pytestmark = pytest.mark.django_db
ADD_URL = reverse("admin:commitments_pledge_add")
CHANGELIST_URL = reverse("admin:commitments_pledge_changelist")


def change_url(pledge):
    return reverse("admin:commitments_pledge_change", args=[pledge.pk])


def adding_prefix(response, model_name):
    """The form prefix of the inline that adds new rows of `model_name` to a pledge."""
    return next(i.formset.prefix for i in response.context["inline_admin_formsets"]
                if i.opts.model._meta.model_name == model_name and i.formset.extra)


def add_pledge(client, world, **changes):
    page = client.get(ADD_URL)
    prefix = adding_prefix(page, "pledge_sources")
    data = admin_form_data(page, coalition=world["coalition"].pk, nation=world["uk"].pk, kind="training",
                           description="Training for Ukrainian recruits", amount="250000000", currency="GBP",
                           announced_on="2025-03-01", **{f"{prefix}-0-source": str(world["source"].pk)})
    data.update(changes)
    return client.post(ADD_URL, data)


def test_editor_adds_a_gbp_pledge_and_sees_its_eur_value_and_rate_date(client, alice, world):
    client.force_login(alice)
    response = add_pledge(client, world)
    assert response.status_code == 302, response.context["adminform"].form.errors

    pledge = Pledge.objects.get()
    assert pledge.eur_rate == Decimal("0.82608")
    assert pledge.eur_rate_date == datetime.date(2025, 2, 28)  # 1 March 2025 was a Saturday
    assert pledge.eur_value == Decimal("302634127.45")
    assert pledge.publication == "draft"
    assert list(pledge.sources.all()) == [world["source"]]

    page = client.get(change_url(pledge)).content.decode()
    assert "302634127.45" in page.replace(",", "")
    assert "28 Feb 2025" in page
    assert "0.826080" in page


@pytest.mark.parametrize(
    "field, value",
    [
        ("amount", "-5"),
        ("amount", "1e30"),
        ("amount", "NaN"),
        ("currency", "ZZZ"),
        ("quantity", "many"),
        ("announced_on", "2025-02-30"),
        ("description", "bad\x00byte"),
        ("earmarked_to", "1800"),
        ("nation", "999999"),
    ],
)
def test_bad_values_in_the_admin_form_get_field_errors_not_a_500(client, alice, world, field, value):
    client.force_login(alice)
    response = add_pledge(client, world, **{field: value})
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not Pledge.objects.exists()


def test_undisclosed_quantity_with_a_number_is_refused_with_a_field_error(client, alice, world):
    client.force_login(alice)
    response = add_pledge(client, world, quantity="5", unit="troops", quantity_undisclosed="on")
    assert response.status_code == 200
    assert "Leave the quantity empty" in str(response.context["adminform"].form.errors["quantity"])


def test_currency_with_no_rate_that_far_back_is_a_field_error(client, alice, world):
    client.force_login(alice)
    response = add_pledge(client, world, currency="RUB", announced_on="2024-06-01")
    assert response.status_code == 200
    assert "no RUB rate" in str(response.context["adminform"].form.errors["currency"])


def test_changing_a_pledge_requires_a_reason_and_history_shows_author_reason_and_source(client, alice, world):
    client.force_login(alice)
    assert add_pledge(client, world).status_code == 302
    pledge = Pledge.objects.get()
    evidence = SourceFactory(title="Ministry of Defence update")

    page = client.get(change_url(pledge))
    response = client.post(change_url(pledge), admin_form_data(page, quantity="2000", unit="trainees"))
    assert response.status_code == 200
    assert "change_reason" in response.context["adminform"].form.errors

    response = client.post(change_url(pledge), admin_form_data(
        page, quantity="2000", unit="trainees", change_reason="Ministry gave the number of trainees",
        change_source=str(evidence.pk)))
    assert response.status_code == 302
    history = client.get(reverse("admin:commitments_pledge_history", args=[pledge.pk])).content.decode()
    assert "alice" in history
    assert "Ministry gave the number of trainees" in history
    assert "Ministry of Defence update" in history
    assert "Quantity" in history and "2000" in history


def test_editor_cannot_publish_and_is_not_offered_the_action(client, alice, world):
    pledge = PledgeFactory(coalition=world["coalition"])
    pledge.sources.add(world["source"])
    client.force_login(alice)
    assert "publish_selected" not in client.get(CHANGELIST_URL).content.decode()
    client.post(CHANGELIST_URL, {"action": "publish_selected", "_selected_action": [pledge.pk]})
    pledge.refresh_from_db()
    assert pledge.publication == "draft"


def test_reviewer_publishes_selected_pledges(client, rita, world):
    pledge = PledgeFactory(coalition=world["coalition"])
    pledge.sources.add(world["source"])
    client.force_login(rita)
    response = client.post(CHANGELIST_URL, {"action": "publish_selected", "_selected_action": [pledge.pk]},
                           follow=True)
    assert "1 pledge(s) published." in response.content.decode()
    pledge.refresh_from_db()
    assert pledge.publication == "published" and pledge.published_by == rita


def test_publishing_without_a_source_is_refused_with_a_message_saying_why(client, rita, world):
    pledge = PledgeFactory(coalition=world["coalition"])
    client.force_login(rita)
    response = client.post(CHANGELIST_URL, {"action": "publish_selected", "_selected_action": [pledge.pk]},
                           follow=True)
    assert "must cite at least one source before it can be published" in response.content.decode()
    pledge.refresh_from_db()
    assert pledge.publication == "draft"


def test_record_a_status_event_for_selected_pledges(client, alice, world):
    pledges = PledgeFactory.create_batch(2, coalition=world["coalition"])
    client.force_login(alice)
    selected = [p.pk for p in pledges]
    form = client.post(CHANGELIST_URL, {"action": "record_status_for_selected", "_selected_action": selected})
    assert form.status_code == 200 and b"Record a status event" in form.content
    response = client.post(CHANGELIST_URL, {
        "action": "record_status_for_selected", "_selected_action": selected, "apply": "1",
        "status": "committed", "occurred_on": "2025-04-01", "source": world["source"].pk,
    }, follow=True)
    assert "for 2 pledge(s)" in response.content.decode()
    assert {p.status for p in Pledge.objects.all()} == {"committed"}
    assert all(p.status_events.get().source == world["source"] for p in pledges)


def test_status_event_added_inline_updates_the_pledges_status(client, alice, world):
    client.force_login(alice)
    assert add_pledge(client, world).status_code == 302
    pledge = Pledge.objects.get()
    page = client.get(change_url(pledge))
    prefix = adding_prefix(page, "statusevent")
    response = client.post(change_url(pledge), admin_form_data(page, **{
        "change_reason": "Delivery confirmed", f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-0-status": "delivered", f"{prefix}-0-occurred_on": "2025-05-01",
        f"{prefix}-0-source": str(world["source"].pk)}))
    assert response.status_code == 302
    pledge.refresh_from_db()
    assert pledge.status == "delivered"
    assert pledge.status_events.get().recorded_by == alice


def _rows(model_name, count):
    """`count` rows of a model, each with what its changelist and change form display."""
    if model_name == "pledge":
        coalition = CoalitionFactory()
        objective = ObjectiveFactory(coalition=coalition)
        for _ in range(count):
            pledge = PledgeFactory(coalition=coalition)
            pledge.objectives.add(objective)
            pledge.sources.add(SourceFactory())
            StatusEventFactory(pledge=pledge)
        return
    factory = {"coalition": CoalitionFactory, "nation": NationFactory, "source": SourceFactory,
               "membership": MembershipFactory, "objective": ObjectiveFactory, "statusevent": StatusEventFactory,
               "nationfigures": NationFiguresFactory}
    factory[model_name].create_batch(count)


def _queries(client, url):
    client.get(url)  # the first request warms per-process caches (content types, permissions)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("model_name",
                         ["coalition", "nation", "source", "membership", "objective", "pledge", "statusevent",
                          "nationfigures"])
def test_changelist_makes_as_many_queries_for_50_rows_as_for_5(client, sam, model_name,
                                                              django_assert_num_queries):
    client.force_login(sam)
    url = reverse(f"admin:commitments_{model_name}_changelist")
    _rows(model_name, 5)
    with_five = _queries(client, url)
    _rows(model_name, 45)
    client.get(url)
    with django_assert_num_queries(with_five):
        client.get(url)


def test_pledge_change_form_makes_as_many_queries_with_50_events_and_sources_as_with_5(
        client, sam, django_assert_num_queries):
    client.force_login(sam)
    pledge = PledgeFactory()

    def add(count):
        for _ in range(count):
            StatusEventFactory(pledge=pledge)
            pledge.sources.add(SourceFactory())
            pledge.objectives.add(ObjectiveFactory(coalition=pledge.coalition))

    add(5)
    with_five = _queries(client, change_url(pledge))
    add(45)
    client.get(change_url(pledge))
    with django_assert_num_queries(with_five):
        client.get(change_url(pledge))


@pytest.mark.parametrize("model_name", ["coalition", "nation", "source", "membership", "objective", "statusevent",
                                        "nationfigures"])
def test_change_form_query_count_does_not_grow_with_the_table(client, sam, model_name, django_assert_num_queries):
    client.force_login(sam)
    _rows(model_name, 5)
    model = apps.get_model("commitments", model_name)
    url = reverse(f"admin:commitments_{model_name}_change", args=[model.objects.first().pk])
    with_five = _queries(client, url)
    _rows(model_name, 45)
    client.get(url)
    with django_assert_num_queries(with_five):
        client.get(url)


def test_sources_cited_in_the_admin_are_in_the_history_with_their_author(client, alice, world):
    client.force_login(alice)
    assert add_pledge(client, world).status_code == 302
    pledge = Pledge.objects.get()
    latest = pledge.history.latest()
    assert latest.history_user == alice
    assert [s.source for s in latest.sources.all()] == [world["source"]]

    page = client.get(change_url(pledge))
    recorded = next(i.formset.prefix for i in page.context["inline_admin_formsets"]
                    if i.opts.model._meta.model_name == "pledge_sources" and not i.formset.extra)
    response = client.post(change_url(pledge), admin_form_data(
        page, change_reason="Wrong document", **{f"{recorded}-0-DELETE": "on"}))
    assert response.status_code == 302
    assert not pledge.sources.exists()
    latest = pledge.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (alice, "Wrong document")
    assert not latest.sources.exists()


def test_editor_enters_item_lines_and_a_revised_amount_that_counts_from_its_date(client, alice, world):
    from tracker.commitments import selectors
    from tracker.commitments.models import PledgeItem

    client.force_login(alice)
    assert add_pledge(client, world).status_code == 302
    pledge = Pledge.objects.get()
    page = client.get(change_url(pledge))
    items = next(i.formset.prefix for i in page.context["inline_admin_formsets"]
                 if i.opts.model._meta.model_name == "pledgeitem")
    response = client.post(change_url(pledge), admin_form_data(
        page, amount="300000000", change_reason="The ministry raised it", figures_effective_on="2025-06-01",
        **{f"{items}-TOTAL_FORMS": "1", f"{items}-0-name": "Challenger 2", f"{items}-0-sub_type": "Main Battle Tank",
           f"{items}-0-quantity": "14"}))
    assert response.status_code == 302, response.context["adminform"].form.errors
    item = PledgeItem.objects.get(pledge=pledge)
    assert (item.name, item.quantity) == ("Challenger 2", Decimal("14"))
    assert item.history.get().history_user == alice
    before = selectors.with_state(Pledge.objects.all(), datetime.date(2025, 5, 31)).get()
    after = selectors.with_state(Pledge.objects.all(), datetime.date(2025, 6, 1)).get()
    assert before.state_eur_value < after.state_eur_value  # GBP 250 m until June, GBP 300 m from then


def test_amounts_take_thousands_separators_and_currency_codes_any_case(client, alice, world):
    client.force_login(alice)
    response = add_pledge(client, world, amount="150,000,000", currency="gbp")
    assert response.status_code == 302
    pledge = Pledge.objects.get()
    assert (pledge.amount, pledge.currency) == (Decimal("150000000"), "GBP")
    page = client.get(change_url(pledge))
    assert client.post(change_url(pledge), admin_form_data(page, amount="1 250 000.50", change_reason="Typo")
                       ).status_code == 302
    pledge.refresh_from_db()
    assert pledge.amount == Decimal("1250000.50")


@pytest.mark.parametrize("typed", ["1,5", "1.500.000", "150,00,000", "12abc"])
def test_an_amount_that_could_be_read_two_ways_is_refused_with_an_example(client, alice, world, typed):
    client.force_login(alice)
    response = add_pledge(client, world, amount=typed)
    assert response.status_code == 200
    assert "e.g. 150,000,000 or 1,250,000.50" in " ".join(response.context["adminform"].form.errors["amount"])
    assert not Pledge.objects.exists()


def test_the_change_reason_sits_next_to_save_and_says_what_it_is_for(client, alice, world):
    client.force_login(alice)
    add_pledge(client, world)
    pledge = Pledge.objects.get()
    page = client.get(change_url(pledge))
    html = page.text
    assert html.rindex('-group"') < html.index('id="change-note"') < html.rindex('class="submit-row"')  # inlines first
    response = client.post(change_url(pledge), admin_form_data(page, amount="300000000"))
    assert response.status_code == 200
    assert "Say why you are making this change: the history keeps it with your name." in response.text
    pledge.refresh_from_db()
    assert pledge.amount == Decimal("250000000")
