"""One flat pledge file: the list's download and the export are the same, in the import template's columns, with
source titles and URLs, re-importable, and holding only what the caller may see."""
import csv
import io

import pytest
from openpyxl import load_workbook

from tests.factories import SourceFactory
from tracker.commitments.imports import importer, template
from tracker.commitments.models import Pledge, Source

pytestmark = pytest.mark.django_db
PLEDGES = "/api/v1/pledges/"


def rows(response):
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_the_list_download_and_the_export_are_the_same_file_in_the_template_columns(api, demo):
    for params in ({}, {"nation": "GB"}, {"ordering": "-eur_value", "kind": "military"}):
        listed = api.get(PLEDGES, {**params, "format": "csv"})
        exported = api.get(f"{PLEDGES}export/", params)
        assert listed.status_code == exported.status_code == 200
        assert listed["Content-Type"] == exported["Content-Type"] == "text/csv; charset=utf-8"
        assert listed.content == exported.content, params
        assert 'filename="pledges.csv"' in listed["Content-Disposition"]
    header = next(csv.reader(io.StringIO(api.get(PLEDGES, {"format": "csv"}).content.decode())))
    assert header == template.HEADER
    xlsx = load_workbook(io.BytesIO(api.get(PLEDGES, {"format": "xlsx"}).content)).active
    exported = load_workbook(io.BytesIO(api.get(f"{PLEDGES}export/", {"format": "xlsx"}).content)).active
    assert list(xlsx.iter_rows(values_only=True)) == list(exported.iter_rows(values_only=True))


def test_the_pledge_download_names_sources_by_url_or_title_not_by_id(api, demo):
    downloaded = rows(api.get(PLEDGES, {"format": "csv"}))
    pledge = Pledge.objects.get(external_id="demo:uk-training")
    row = next(row for row in downloaded if row["external_id"] == "demo:uk-training")
    assert row["sources"] == "; ".join(source.url or source.title for source in pledge.sources.order_by("pk"))
    assert row["sources"] and not row["sources"].isdigit()
    assert row["nation"] == pledge.nation.name and row["coalition"] == pledge.coalition.name
    latest = pledge.status_events.order_by("occurred_on", "pk").last()
    assert row["status"] == latest.status and row["status_source"] == (latest.source.url or latest.source.title)


def test_the_download_follows_the_lists_filters_ordering_and_as_of(api, demo):
    by_value = rows(api.get(PLEDGES, {"format": "csv", "ordering": "-eur_value"}))
    listed = api.get(PLEDGES, {"ordering": "-eur_value", "page_size": 1000}).json()["results"]
    assert [row["eur_value"] for row in by_value] == [p["eur_value"] or "" for p in listed]
    assert by_value[-1]["eur_value"] == ""  # unvalued pledges last
    then = {row["external_id"]: row for row in rows(api.get(PLEDGES, {"format": "csv", "as_of": "2025-05-01"}))}
    assert (then["demo:nl-mine-clearance"]["status"], then["demo:nl-mine-clearance"]["delivered_quantity"]) == (
        "committed", "")
    assert "demo:no-maritime" not in then  # announced later
    today = {row["external_id"]: row for row in rows(api.get(PLEDGES, {"format": "csv"}))}
    assert today["demo:nl-mine-clearance"]["status"] == "delivered"
    assert api.get(PLEDGES, {"format": "csv", "ordering": "value"}).status_code == 400


def test_the_downloaded_file_imports_back_without_errors(api, rita, demo):
    content = api.get(PLEDGES, {"format": "csv"}).content
    report = importer.import_file(content, "pledges.csv", user=rita, dry_run=True)
    assert report.ok, report.errors
    assert sum(report.counts.values()) == Pledge.objects.filter(publication="published").count()


def test_readers_download_published_pledges_only_and_never_a_draft_s_source(api, editor_api, demo):
    draft = Pledge.objects.get(publication="draft")
    secret = SourceFactory(title="Leaked draft memo", url="https://secret.example/memo")
    draft.sources.add(secret)
    for params in ({"format": "csv"}, {"format": "csv", "as_of": "2025-12-31"}, {"format": "csv", "search": "it"}):
        text = api.get(PLEDGES, params).content.decode()
        assert draft.description not in text and "secret.example" not in text and "Leaked" not in text, params
    for url in (f"{PLEDGES}?format=xlsx", f"{PLEDGES}export/?format=xlsx"):
        cells = [cell for row in load_workbook(io.BytesIO(api.get(url).content)).active.iter_rows(values_only=True)
                 for cell in row]
        assert draft.description not in cells and "https://secret.example/memo" not in cells
    downloaded = rows(api.get(PLEDGES, {"format": "csv"}))
    assert {row["publication"] for row in downloaded} == {"published"}
    assert len(downloaded) == Pledge.objects.filter(publication="published").count()
    assert "secret.example" in editor_api.get(PLEDGES, {"format": "csv"}).content.decode()  # editors see drafts
    assert Source.objects.filter(pk=secret.pk).exists()


def test_a_searched_download_lists_the_best_matches_first(api, demo):
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(api.get("/api/v1/pledges/?search=ceasefire&format=csv").content.decode(
        "utf-8-sig"))))
    assert rows and rows[0]["external_id"] == "demo:uk-ceasefire-troops"
    weakest = list(csv.DictReader(io.StringIO(api.get(
        "/api/v1/pledges/?search=ceasefire&ordering=relevance&format=csv").content.decode("utf-8-sig"))))
    assert [row["external_id"] for row in weakest] == [row["external_id"] for row in reversed(rows)]
