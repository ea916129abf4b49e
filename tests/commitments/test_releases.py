"""Releases: a reviewer freezes what readers see; `release=<n>` answers as it did; the corrections log says what
changed since, why, and on which source."""
import csv
import datetime
import io
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django_countries.fields import Country

from tests.factories import PledgeFactory, SourceFactory, StatusEventFactory
from tracker.commitments import selectors, services, summaries
from tracker.commitments.filters import select
from tracker.commitments.models import Pledge, Release

pytestmark = pytest.mark.django_db
TOTALS = "/api/v1/summaries/totals/"
COALITION = "coalition-of-the-willing"


def firm_pledged(client, query):
    return client.get(TOTALS, query).json()["results"][0]["firm"]["announced"]


def correct(pledge, user, amount, reason, source):
    pledge.amount = amount
    return services.save_record(pledge, user=user, reason=reason, source=source)


def valued_pledge():
    return Pledge.objects.filter(publication="published", amount__isnull=False, is_conditional=False,
                                 nation__is_pass_through=False).order_by("id").first()


def test_a_release_still_answers_as_it_did_after_a_correction_which_the_next_release_logs(client, demo, rita):
    for number in (1, 2):
        services.cut_release(user=rita, title=f"Release {number}")
    three = services.cut_release(user=rita, title="December update")
    cited = {path: client.get(path, {"release": 3, "coalition": COALITION}).json()
             for path in (TOTALS, "/api/v1/summaries/by-nation/", "/api/v1/summaries/by-month/")}
    before = firm_pledged(client, {"coalition": COALITION})

    pledge = valued_pledge()
    ministry = SourceFactory(title="Ministry correction notice")
    correct(pledge, rita, pledge.amount + Decimal("1000000"), "Ministry corrected the figure", ministry)
    four = services.cut_release(user=rita, title="January update")

    assert Decimal(firm_pledged(client, {"coalition": COALITION})["eur"]) > Decimal(before["eur"])
    for path, document in cited.items():  # release 3 answers exactly as before, in every grouping
        assert client.get(path, {"release": 3, "coalition": COALITION}).json() == document
    assert cited[TOTALS]["release"]["number"] == 3
    assert firm_pledged(client, {"release": 3, "coalition": COALITION})["eur"] == before["eur"]

    log = selectors.release_changes(four, three)
    assert [(c["pledge_id"], c["change"], c["correction"]) for c in log] == [(pledge.pk, "revised", True)]
    old, new = pledge.amount - 1000000, pledge.amount
    assert ("amount", f"{pledge.currency} {old:,}", f"{pledge.currency} {new:,}") in log[0]["fields"]
    assert [(reason, source) for _, reason, source in log[0]["reasons"]] == [("Ministry corrected the figure",
                                                                              ministry)]
    page = client.get(f"/releases/{four.number}/").content.decode()
    assert "Correction</strong> to release 3" in page and "Ministry corrected the figure" in page
    assert "Ministry correction notice" in page


def test_todays_figures_say_which_release_they_extend(client, demo, rita):
    assert client.get(TOTALS).json()["extends_release"] is None
    services.cut_release(user=rita, title="First")
    document = client.get(TOTALS).json()
    assert document["release"] is None
    assert document["extends_release"]["number"] == 1
    assert document["extends_release"]["url"] == "http://testserver/releases/1/"
    assert "Today's data extends" in client.get("/").content.decode()


def test_releases_are_numbered_in_order_and_attributed_to_the_reviewer(demo, rita):
    first, second = services.cut_release(user=rita, title="One"), services.cut_release(user=rita, title="Two")
    assert (first.number, second.number) == (1, 2)
    record = second.history.get()
    assert (record.history_user, record.history_change_reason) == (rita, "Release 2 cut")
    assert second.pledges == Pledge.objects.filter(publication="published").count()


def test_only_reviewers_cut_releases(demo, alice):
    with pytest.raises(PermissionDenied):
        services.cut_release(user=alice, title="Not mine to cut")
    with pytest.raises(CommandError, match="--user"):
        call_command("cut_release", title="Not mine", user="alice")
    assert not Release.objects.exists()


def test_a_release_needs_a_title(demo, rita):
    with pytest.raises(CommandError, match="--title"):
        call_command("cut_release", title="  ", user="rita")


def as_api_writes(value):
    """A document with each country as its code, as the API writes it."""
    if isinstance(value, dict):
        return {key: as_api_writes(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_api_writes(item) for item in value]
    return str(value) if isinstance(value, Country) else value


def test_a_frozen_document_thaws_to_exactly_the_document(demo):
    for query in selectors.release_scopes():
        selection = select(query, selectors.published_pledges())
        for grouping in summaries.GROUPINGS:
            document = summaries.build_summary(selection, grouping, str)
            assert summaries.thawed(summaries.frozen(document)) == as_api_writes(document)


def test_a_release_answers_only_what_it_froze_and_says_so(client, demo, rita):
    services.cut_release(user=rita, title="One")
    for query in ({"release": 1, "kind": "military"}, {"release": 1, "as_of": "2025-06-01"},
                  {"release": 2}, {"release": "one"}, {"release": 1, "year": 2023}):
        response = client.get("/api/v1/summaries/by-nation/", query)
        assert response.status_code == (400 if "year" in query else 404), query
        assert set(response.json()) == ({"year"} if "year" in query else {"release"})
    assert client.get("/?release=1&kind=military").status_code == 400
    assert "release" in client.get("/pledges/?release=1").content.decode()


def test_withdrawn_and_added_pledges_are_logged_and_drafts_never_are(client, demo, rita, alice):
    one = services.cut_release(user=rita, title="One")
    withdrawn = Pledge.objects.filter(publication="published").order_by("-id").first()
    services.unpublish_pledge(withdrawn, user=rita, reason="The source retracted it")
    withdrawn.description = "Draft wording nobody should read"
    services.save_record(withdrawn, user=alice, reason="Secret draft note")
    draft = Pledge.objects.filter(publication="draft").first()
    if draft is not None:
        draft.description = "Still a draft"
        services.save_record(draft, user=alice, reason="Draft edit")
    two = services.cut_release(user=rita, title="Two")

    log = {c["pledge_id"]: c for c in selectors.release_changes(two, one)}
    assert log[withdrawn.pk]["change"] == "withdrawn"
    assert [reason for _, reason, _ in log[withdrawn.pk]["reasons"]] == ["The source retracted it"]
    assert draft is None or draft.pk not in log
    page = client.get("/releases/2/").content.decode()
    assert "The source retracted it" in page
    assert "Secret draft note" not in page and "Draft wording nobody should read" not in page

    services.publish_pledge(withdrawn, user=rita, reason="Confirmed after all")
    three = services.cut_release(user=rita, title="Three")
    back = {c["pledge_id"]: c for c in selectors.release_changes(three, two)}[withdrawn.pk]
    assert back["change"] == "added" and ("Confirmed after all" in [r for _, r, _ in back["reasons"]])


def test_a_new_stage_is_progress_not_a_correction(demo, rita):
    one = services.cut_release(user=rita, title="One")
    pledge = valued_pledge()
    StatusEventFactory(pledge=pledge, status="delivered", occurred_on=datetime.date(2026, 1, 5))
    two = services.cut_release(user=rita, title="Two")
    [change] = selectors.release_changes(two, one)
    assert change["change"] == "revised" and not change["correction"]
    assert [label for label, _, _ in change["fields"]][0] == "status"


def test_the_release_dataset_is_what_readers_could_download_then_and_does_not_change(client, demo, rita):
    services.cut_release(user=rita, title="One")
    today = client.get("/api/v1/pledges/export/", {"format": "csv"}).content
    frozen = client.get("/releases/1/dataset.csv")
    assert frozen["Content-Disposition"] == 'attachment; filename="tracker-release-1.csv"'
    pledge = valued_pledge()
    correct(pledge, rita, pledge.amount + 1, "Typo", None)
    assert client.get("/releases/1/dataset.csv").content == frozen.content
    assert frozen.content.splitlines()[0] == today.splitlines()[0]  # the template's columns
    rows = list(csv.reader(io.StringIO(frozen.content.decode())))
    assert len(rows) == Pledge.objects.filter(publication="published").count() + 1
    assert client.get("/releases/1/dataset.xlsx")["Content-Type"].startswith("application/vnd.openxmlformats")
    assert client.get("/releases/1/dataset.pdf").status_code == 404


def test_a_pledges_page_labels_a_change_to_a_released_figure_as_a_correction(client, demo, rita):
    pledge = valued_pledge()
    correct(pledge, rita, pledge.amount + 5, "Before any release", None)
    services.cut_release(user=rita, title="One")
    correct(pledge, rita, pledge.amount + 5, "After release one", None)
    page = client.get(f"/pledges/{pledge.pk}/").content.decode()
    after = page[page.index("After release one"):]
    before = page[page.index("Before any release"):page.index("</h3>", page.index("Before any release"))]
    assert "Correction to" in after[:after.index("</h3>")] and "release 1" in after[:after.index("</h3>")]
    assert "Correction" not in before


def test_a_reviewer_cuts_a_release_in_the_admin_and_an_editor_cannot(client, demo, rita, alice):
    client.force_login(alice)
    assert client.get("/admin/commitments/release/").status_code == 200  # editors see the releases
    assert client.get("/admin/commitments/release/add/").status_code == 403
    assert client.post("/admin/commitments/release/add/", {"title": "Mine"}).status_code == 403
    client.force_login(rita)
    response = client.post("/admin/commitments/release/add/", {"title": "December update", "notes": "Paris pledges."})
    assert response.status_code == 302
    release = Release.objects.get()
    assert (release.number, release.title, release.cut_by) == (1, "December update", rita)
    assert release.documents.exists() and release.released_pledges.count() == release.pledges
    page = client.get(f"/admin/commitments/release/{release.pk}/change/").content.decode()
    assert "December update" in page and 'name="title"' in page
    client.post(f"/admin/commitments/release/{release.pk}/change/", {"title": "December 2026 update", "notes": ""})
    release.refresh_from_db()
    assert release.title == "December 2026 update" and release.number == 1
    assert release.history.count() == 2
    assert client.post(f"/admin/commitments/release/{release.pk}/delete/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_cutting_at_once_get_the_next_two_numbers_while_an_editor_writes(rita, alice):
    """Each cut reads one snapshot; the second to write its number finds it taken and cuts again."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite allows one writer at a time: the cuts take turns")
    call_command("load_demo")  # committed, as the threads' own connections must see it
    failures = []

    def run(action):
        try:
            action()
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)
        finally:
            connections.close_all()

    pledge = valued_pledge()

    def edit():
        for n in range(5):
            fresh = Pledge.objects.get(pk=pledge.pk)
            fresh.description = f"Edited while releases are cut ({n})"
            services.save_record(fresh, user=alice, reason="Wording")

    threads = [threading.Thread(target=run, args=(lambda t=title: services.cut_release(user=rita, title=t),))
               for title in ("A", "B")] + [threading.Thread(target=run, args=(edit,))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert sorted(Release.objects.values_list("number", flat=True)) == [1, 2]
    for release in Release.objects.all():  # each is whole: its documents and pledges agree with its count
        assert release.released_pledges.count() == release.pledges
        assert release.documents.count() == 8 * len(selectors.release_scopes())


def test_comparing_with_a_later_release_reads_forward_and_shows_no_draft_reason(client, demo, rita, alice):
    services.cut_release(user=rita, title="One")
    draft = PledgeFactory(coalition=valued_pledge().coalition, nation=valued_pledge().nation,
                          description="A pledge first written as a draft")
    draft.sources.add(valued_pledge().sources.first())
    draft.description = "A pledge as published"
    services.save_record(draft, user=alice, reason="Secret draft reason")
    services.publish_pledge(draft, user=rita, reason="Confirmed")
    services.cut_release(user=rita, title="Two")
    for page in (client.get("/releases/1/?since=2"), client.get("/releases/2/?since=1"), client.get("/releases/2/")):
        text = page.content.decode()
        assert "Secret draft reason" not in text and "first written as a draft" not in text
        assert "Added" in text and "Withdrawn" not in text
    assert "Changes from release 1 to release 2" in client.get("/releases/1/?since=2").content.decode()


def test_the_corrections_log_writes_figures_in_the_readers_language(client, demo, rita):
    services.cut_release(user=rita, title="One")
    pledge = valued_pledge()
    correct(pledge, rita, Decimal("1503000.50"), "Typo", None)
    services.cut_release(user=rita, title="Two")
    german = client.get("/de/releases/2/").content.decode()
    assert f"{pledge.currency} 1.503.000,50" in german
    assert f"{pledge.currency} 1,503,000.50" in client.get("/releases/2/").content.decode()
