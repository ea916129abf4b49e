"""The admin's import screens: upload, preview of every row's outcome, confirm; templates and exports."""
import csv
import hashlib
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import CoalitionFactory
from tracker.commitments.models import Pledge

KIEL = Path(__file__).parent / "fixtures" / "kiel_quirks.csv"
IMPORT = reverse("admin:commitments_pledge_import")


@pytest.fixture(autouse=True)
def _coalition(db):
    CoalitionFactory()


def upload(client, content, name="kiel.csv", fmt="kiel", **extra):
    return client.post(IMPORT, {"file": SimpleUploadedFile(name, content, content_type="text/csv"), "format": fmt,
                                **extra})


def test_editor_previews_every_row_then_confirms_and_pledges_arrive_as_drafts(client, alice):
    client.force_login(alice)
    page = client.get(IMPORT)
    assert page.status_code == 200 and "publish" not in page.context["form"].fields  # editors cannot publish
    preview = upload(client, KIEL.read_bytes())
    assert preview.status_code == 200
    assert [o.action for o in preview.context["report"].outcomes] == ["new"] * 8
    assert Pledge.objects.count() == 0  # nothing written before confirming
    done = client.post(IMPORT, {"confirm": "1", **{k: v for k, v in preview.context["chosen"].items()},
                                "digest": preview.context["digest"], "filename": "kiel.csv"})
    assert done.status_code == 302
    assert Pledge.objects.filter(publication="draft").count() == 8
    again = upload(client, KIEL.read_bytes())
    assert [o.action for o in again.context["report"].outcomes] == ["unchanged"] * 8


def test_a_bad_upload_lists_its_problems_and_offers_no_confirmation(client, alice):
    client.force_login(alice)
    bad = KIEL.read_text().replace("Czech Republic", "Atlantis").encode()
    page = upload(client, bad)
    assert page.status_code == 400
    assert b"Atlantis" in page.content and b"Confirm import" not in page.content
    assert Pledge.objects.count() == 0


def test_reviewer_may_publish_on_import(client, rita):
    client.force_login(rita)
    preview = upload(client, KIEL.read_bytes(), publish="on")
    client.post(IMPORT, {"confirm": "1", **preview.context["chosen"], "digest": preview.context["digest"],
                         "filename": "kiel.csv"})
    assert Pledge.objects.filter(publication="published").count() == 8


def test_an_upload_waits_in_the_database_so_any_app_server_confirms_it_and_expires_after_a_day(client, alice):
    from tracker.commitments.models import ImportUpload

    client.force_login(alice)
    preview = upload(client, KIEL.read_bytes())
    kept = ImportUpload.objects.get()
    assert kept.digest == preview.context["digest"] == hashlib.sha256(KIEL.read_bytes()).hexdigest()
    assert bytes(kept.data) == KIEL.read_bytes()
    ImportUpload.objects.update(uploaded_at=kept.uploaded_at - ImportUpload.KEPT)  # a day and more later
    late = client.post(IMPORT, {"confirm": "1", **preview.context["chosen"], "digest": kept.digest,
                                "filename": "kiel.csv"}, follow=True)
    assert "no longer available" in late.text and Pledge.objects.count() == 0
    upload(client, KIEL.read_bytes())  # uploading again keeps it again (and clears out what expired)
    assert ImportUpload.objects.get().uploaded_at > kept.uploaded_at


def test_confirming_a_forged_upload_changes_nothing(client, alice):
    client.force_login(alice)
    response = client.post(IMPORT, {"confirm": "1", "digest": "../../etc/passwd", "format": "kiel"})
    assert response.status_code == 302 and Pledge.objects.count() == 0


def test_blank_template_and_export_action_download_the_template_columns(client, alice):
    client.force_login(alice)
    blank = client.get(reverse("admin:commitments_pledge_template", args=["csv"]))
    header = next(csv.reader(io.StringIO(blank.content.decode())))
    assert header[0] == "external_id" and blank["Content-Disposition"].endswith('.csv"')
    upload(client, KIEL.read_bytes())
    client.post(IMPORT, {"confirm": "1", "format": "kiel", "coalition": "", "publish": "",
                         "digest": hashlib.sha256(KIEL.read_bytes()).hexdigest(),
                         "filename": "kiel.csv"})
    exported = client.post(reverse("admin:commitments_pledge_changelist"), {
        "action": "export_csv", "_selected_action": list(Pledge.objects.values_list("pk", flat=True))})
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert sorted(row["external_id"] for row in rows) == sorted(Pledge.objects.values_list("external_id", flat=True))


def test_readers_cannot_reach_the_import_screen(client):
    assert client.get(IMPORT).status_code == 302  # to the login page
