"""Importing pledges: the Kiel main-sheet format and our template, all or nothing, idempotent, in bulk."""
import csv
import datetime
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from tests.factories import CoalitionFactory, NationFactory, PledgeFactory, SourceFactory
from tracker.commitments import selectors, services
from tracker.commitments.imports import importer, kiel, template
from tracker.commitments.models import Coalition, Nation, Objective, Pledge, Source, StatusEvent

FIXTURES = Path(__file__).parent / "fixtures"
KIEL = FIXTURES / "kiel_quirks.csv"
SHARED_SAMPLE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "kiel-sample" / \
    "kiel_main_sheet_sample.csv"


@pytest.fixture
def coalition(db):
    return CoalitionFactory(name="Coalition of the willing", slug="coalition-of-the-willing")


def run(data, user, name="file.csv", **options):
    return importer.import_file(data, name, user=user, **options)


def kiel_import(user, data=None, **options):
    return run(KIEL.read_bytes() if data is None else data, user, "kiel_quirks.csv", fmt="kiel", **options)


def snapshot():
    """Everything an import could touch, to show that a refused or repeated import changed nothing."""
    return {model.__name__: (model.objects.count(), model.history.count())
            for model in (Coalition, Nation, Objective, Source, Pledge, StatusEvent)}


def template_csv(rows):
    header = list(dict.fromkeys(key for row in rows for key in row))
    return template.write_csv(rows, header)


def pledge_row(**values):
    row = {"external_id": "row-1", "nation": "France", "nation_code": "FR", "kind": "military",
           "description": "Air-defence radars", "amount": "80,000,000", "currency": "EUR",
           "announced_on": "2025-06-01", "sources": "https://gov.example/fr/radars"}
    row.update(values)
    return row


# The Kiel format


def test_each_kiel_package_becomes_one_pledge_with_its_item_lines(alice, coalition):
    report = kiel_import(alice)
    assert report.ok, report.errors
    assert report.counts["new"] == 8
    package = Pledge.objects.get(external_id="kiel:ZZM1")
    assert package.nation.name == "Norway" and package.coalition == coalition
    assert package.description == "Norway sends a package."
    assert [(i.name, i.quantity, i.quantity_undisclosed) for i in package.items.order_by("position")] == [
        ("Anti-tank weapon", Decimal("2000"), False), ("Helmet", None, True), ("Body armour", None, False)]
    assert package.quantity is None  # three different items have no single quantity
    assert package.publication == Pledge.Publication.DRAFT


def test_kiel_undisclosed_quantity_is_never_zero_and_dot_means_empty(alice, coalition):
    kiel_import(alice)
    howitzers = Pledge.objects.get(external_id="kiel:ZZM2")
    item = howitzers.items.get()
    assert (item.name, item.quantity, item.quantity_undisclosed) == ("Howitzer", None, True)
    assert howitzers.disclosure == Pledge.Disclosure.PARTIAL
    unvalued = Pledge.objects.get(external_id="kiel:ZZH1")
    assert unvalued.amount is None and unvalued.currency == "" and unvalued.eur_value is None
    assert unvalued.valuation_basis == Pledge.Valuation.NOT_VALUED
    tents = Pledge.objects.get(external_id="kiel:ZZH2").items.get()
    assert (tents.quantity, tents.name) == (Decimal("500"), "Tent")


def test_kiel_amount_is_converted_with_our_ecb_rate_and_kiels_eur_figure_kept(alice, coalition):
    kiel_import(alice)
    package = Pledge.objects.get(external_id="kiel:ZZM1")
    assert (package.amount, package.currency) == (Decimal("35000000"), "NOK")  # thousand separators read
    assert package.eur_rate_date == datetime.date(2022, 3, 1)
    assert package.eur_value == (Decimal("35000000") / package.eur_rate).quantize(Decimal("0.01"))
    assert package.source_eur_value == Decimal("3500000")  # Kiel's own conversion, for comparison
    assert Pledge.objects.get(external_id="kiel:ZZM2").valuation_basis == Pledge.Valuation.ESTIMATED


def test_kiel_currency_without_an_ecb_rate_falls_back_to_kiels_eur_figure_and_says_so(alice, coalition):
    report = kiel_import(alice)
    taiwan = Pledge.objects.get(external_id="kiel:ZZF1")
    assert (taiwan.amount, taiwan.currency, taiwan.eur_value) == (Decimal("3200000"), "EUR", Decimal("3200000"))
    assert "Value as given: TWD 100,000,000; valued at Kiel's EUR figure" in taiwan.description
    assert any("TWD 100,000,000: no ECB rate" in note for o in report.outcomes for note in o.notes)


@pytest.mark.parametrize("cell, expected", [
    ("3/1/2022", (datetime.date(2022, 3, 1), "day")),
    ("until 6/7/2022", (datetime.date(2022, 6, 7), "until")),
    ("until 6/2022", (datetime.date(2022, 6, 30), "until")),
    ("unclear, 04/22", (datetime.date(2022, 4, 1), "month")),
    ("not specified, 03/22", (datetime.date(2022, 3, 1), "month")),
    ("2023", (datetime.date(2023, 1, 1), "year")),
    (".", (None, "unknown")),
    (datetime.datetime(2022, 5, 2), (datetime.date(2022, 5, 2), "day")),
])
def test_kiel_approximate_dates_keep_their_precision(cell, expected):
    assert kiel.parse_date(cell)[:2] == expected


def test_kiel_earmarked_years_and_ranges(alice, coalition):
    kiel_import(alice)
    assert Pledge.objects.filter(external_id="kiel:ZZM1").values_list("earmarked_from", "earmarked_to")[0] == \
        (2022, 2023)
    assert Pledge.objects.filter(external_id="kiel:ZZF2").values_list("earmarked_from", "earmarked_to")[0] == \
        (2022, 2024)
    assert Pledge.objects.filter(external_id="kiel:ZZM2").values_list("earmarked_from", "earmarked_to")[0] == \
        (2022, 2022)
    assert kiel.parse_earmarked("2022/23") == (2022, 2023)


def test_kiel_source_urls_become_one_source_each(alice, coalition):
    kiel_import(alice)
    package = Pledge.objects.get(external_id="kiel:ZZM1")
    urls = sorted(package.sources.values_list("url", flat=True))
    assert urls == ["https://archive.example.org/pkg1", "https://news.example.no/shared",
                    "https://www.regjeringen.no/en/pkg1"]  # trailing space ignored, repeated rows counted once
    shared = Source.objects.get(url="https://news.example.no/shared")
    assert set(shared.pledges.values_list("external_id", flat=True)) == {"kiel:ZZM1", "kiel:ZZM2"}
    official = Source.objects.get(url="https://www.regjeringen.no/en/pkg1")
    assert official.is_official and official.publisher == "regjeringen.no"
    event = package.status_events.get()
    assert (event.status, event.occurred_on, event.source) == ("announced", datetime.date(2022, 3, 1), official)


def test_kiel_donor_names_map_to_nations_and_bodies(alice, coalition):
    united_states = NationFactory(name="United States", slug="united-states", country="US")
    kiel_import(alice)
    nation = {p.external_id: p.nation for p in Pledge.objects.select_related("nation")}
    assert nation["kiel:ZZM4"] == united_states  # an existing nation, found by its ISO code
    assert nation["kiel:ZZM2"].country.code == "CZ"
    assert nation["kiel:ZZH1"].country.code == "KR"
    assert nation["kiel:ZZH2"].country.code == "TR"
    assert nation["kiel:ZZF1"].country.code == "TW"
    assert nation["kiel:ZZF2"].kind == Nation.Kind.EU_INSTITUTION and nation["kiel:ZZF2"].country is None
    assert nation["kiel:ZZM3"].is_pass_through  # the EPF: never counted twice in totals


def test_kiel_xlsx_with_a_title_block_above_the_header_imports_like_the_csv(alice, coalition):
    rows = list(csv.reader(io.StringIO(KIEL.read_text())))
    workbook = Workbook()
    workbook.active.title = "Notes"
    workbook.active.append(["This workbook has a notes sheet first"])
    sheet = workbook.create_sheet("Bilateral Assistance, MAIN DATA")
    sheet.append(["Ukraine Support Tracker, main data"])
    sheet.append([])
    date_column = rows[0].index("Announcement Date")
    for index, values in enumerate(rows):
        if index and values[date_column] == "3/1/2022":
            values[date_column] = datetime.datetime(2022, 3, 1)  # a real date cell, as Excel stores it
        sheet.append(values)
    out = io.BytesIO()
    workbook.save(out)
    report = run(out.getvalue(), alice, "kiel.xlsx", fmt="kiel")
    assert report.ok, report.errors
    assert report.counts["new"] == 8
    assert Pledge.objects.get(external_id="kiel:ZZM1").announced_on == datetime.date(2022, 3, 1)
    first_line = min(o.line for o in report.outcomes)
    assert first_line == 4  # spreadsheet row numbers: title, blank, header, then data


@pytest.mark.skipif(not SHARED_SAMPLE.exists(), reason="../shared/data/kiel-sample is not beside the project")
def test_the_real_kiel_sample_imports_completely_and_reimports_unchanged(alice, coalition):
    data = SHARED_SAMPLE.read_bytes()
    release = datetime.date(2023, 7, 31)  # "data to about July 2023"
    report = run(data, alice, "kiel_main_sheet_sample.csv", fmt="kiel", release_date=release)
    assert report.ok, report.errors[:5]
    assert report.counts["new"] == 83
    assert set(Nation.objects.values_list("name", flat=True)) == {"Australia", "Estonia", "Portugal", "Norway"}
    kept = dict(Pledge.objects.values_list("nation__name").annotate(eur=Sum("source_eur_value"))
                .values_list("nation__name", "eur"))
    assert kept == {"Australia": Decimal("488887535"), "Estonia": Decimal("431851300"),
                    "Norway": Decimal("7448182640"), "Portugal": Decimal("334819072")}  # the file's column sums
    assert Pledge.objects.aggregate(d=Sum("delivered_eur"))["d"] == Decimal("565125747")
    before = snapshot()
    again = run(data, alice, "kiel_main_sheet_sample.csv", fmt="kiel", release_date=release)
    assert again.counts == {"unchanged": 83}
    assert snapshot() == before


# All or nothing


def test_a_bad_file_reports_every_bad_row_with_line_and_column_and_changes_nothing(alice, coalition):
    rows = list(csv.reader(io.StringIO(KIEL.read_text())))
    header = rows[0]
    rows[1][header.index("Announcement Date")] = "13/45/2022"  # a quirk of a third party's file: a note
    rows[5][header.index("Countries")] = "Atlantis"  # cannot be read at all: an error
    rows[6][header.index("Total ")] = "about a million"  # a note, and the value is left unknown
    rows[7][header.index("Type of Aid General")] = "Cyber"
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    before = snapshot()
    report = kiel_import(alice, out.getvalue().encode())
    assert not report.ok and not report.applied
    assert [(line, column) for line, column, _ in report.errors] == [(6, "Countries"), (8, "Type of Aid General")]
    assert "Atlantis" in report.errors[0][2]
    notes = {o.key: o.notes for o in report.outcomes}
    assert any("“13/45/2022” is not a real date" in n and "the date is unknown" in n for n in notes["kiel:ZZM1"])
    assert any("“about a million” is not a number" in n for n in notes["kiel:ZZH2"])
    assert snapshot() == before


def test_one_bad_row_far_down_a_file_keeps_every_good_row_out_and_is_still_reported(alice, coalition):
    rows = [pledge_row(external_id=f"row-{n}", nation_code="", nation=["France", "Latvia"][n % 2],
                       sources=f"https://gov.example/{n}", status="announced", status_on="2025-06-02",
                       status_source=f"https://gov.example/{n}") for n in range(45)]
    rows[38]["amount"] = "-5"
    before, version = snapshot(), selectors.data_version()
    report = run(template_csv(rows), alice)
    assert [(line, column) for line, column, _ in report.errors] == [(40, "amount")]
    assert not report.applied and report.counts == {"new": 44, "error": 1}
    assert snapshot() == before and selectors.data_version() == version
    assert run(template_csv(rows[:38]), alice).counts == {"new": 38}  # and the good rows import afterwards


def test_a_write_the_database_refuses_leaves_nothing_of_the_import(alice, coalition, monkeypatch):
    # Another editor saves a pledge with one of the file's external ids after the import looked them up: the
    # database's unique constraint refuses the write, and the import's other rows go with it.
    load = importer.Import._load_pledges

    def load_then_someone_else_saves(self):
        load(self)
        PledgeFactory(external_id="row-7", coalition=coalition)

    monkeypatch.setattr(importer.Import, "_load_pledges", load_then_someone_else_saves)
    with pytest.raises(IntegrityError):
        run(template_csv([pledge_row(external_id=f"row-{n}") for n in range(12)]), alice)
    assert list(Pledge.objects.values_list("external_id", flat=True)) == ["row-7"]
    assert not Source.objects.filter(title__startswith="Spreadsheet import").exists()


@pytest.mark.parametrize("values, column, words", [
    ({"amount": "NaN"}, "amount", "not a number"),
    ({"amount": "-5"}, "amount", "negative"),
    ({"amount": "1e30"}, "amount", "not a number"),
    ({"currency": "XYZ"}, "currency", "Unknown currency"),
    ({"announced_on": "2025-02-30"}, "announced_on", "not a date"),
    ({"kind": "weapons"}, "kind", "not one of"),
    ({"description": ""}, "description", "required"),
    ({"quantity": "5"}, "unit", "needs its unit"),
    ({"quantity": "5", "unit": "radars", "quantity_undisclosed": "yes"}, "quantity", "undisclosed"),
    ({"is_conditional": "yes"}, "condition", "state its condition"),
    ({"earmarked_from": "2026", "earmarked_to": "2025"}, "earmarked_to", "before the first"),
    ({"status": "delivered"}, "status_on", "required"),
    ({"status": "delivered", "status_on": "2025-01-01", "status_source": "https://gov.example/fr/radars"},
     "status_on", "before the pledge was announced"),
    ({"nation": "Atlantis", "nation_code": ""}, "nation", "Atlantis"),
    ({"sources": "not a url but a title; https://bad url"}, "sources", "not a valid URL"),
])
def test_bad_template_cells_are_reported_by_column(alice, coalition, values, column, words):
    before = snapshot()
    report = run(template_csv([pledge_row(external_id="ok"), pledge_row(**values)]), alice)
    assert not report.ok
    assert any(line == 3 and col == column and words in message for line, col, message in report.errors), \
        report.errors
    assert snapshot() == before


def test_unknown_template_columns_are_refused_by_name(alice, coalition):
    report = run(template_csv([pledge_row(ammount="5")]), alice)
    assert report.file_errors and "“ammount”" in report.file_errors[0]


def test_a_csv_with_nul_bytes_is_refused_as_a_whole(alice, coalition):
    report = run(template_csv([pledge_row(description="bad\x00byte")]), alice)
    assert report.file_errors == ["The file is not a CSV text file (it contains NUL bytes); upload CSV or XLSX."]


def test_rows_with_the_same_external_id_are_refused(alice, coalition):
    report = run(template_csv([pledge_row(), pledge_row()]), alice)
    assert report.errors == [(3, "external_id", "“row-1” is also on line 2")]


# Idempotent, attributed, drafts


def test_reimporting_the_same_file_creates_and_changes_nothing(alice, coalition):
    kiel_import(alice)
    before = snapshot()
    report = kiel_import(alice)
    assert report.counts == {"unchanged": 8}
    assert snapshot() == before


def test_a_changed_row_updates_its_pledge_with_history_citing_the_file(alice, coalition):
    kiel_import(alice)
    pledge = Pledge.objects.get(external_id="kiel:ZZH2")
    changed = KIEL.read_text().replace("Tents.", "Tents and blankets.")
    report = run(changed.encode(), alice, "kiel-v2.csv", fmt="kiel")
    assert report.counts == {"changed": 1, "unchanged": 7}
    assert [o.changes for o in report.outcomes if o.action == "changed"] == [["description"]]
    pledge.refresh_from_db()
    assert pledge.description.startswith("Tents and blankets.")
    latest = pledge.history.first()
    assert latest.history_user == alice and latest.history_type == "~"
    assert latest.history_change_reason == "Imported from kiel-v2.csv"
    assert latest.history_source.title.startswith("Kiel Ukraine Support Tracker file: kiel-v2.csv")
    assert sorted(latest.sources.values_list("source__url", flat=True)) == ["https://turkey.example/tents"]


def test_a_new_imported_pledge_has_history_of_itself_its_sources_and_its_status_event(alice, coalition):
    report = run(template_csv([pledge_row(status="announced", status_on="2025-06-02",
                                          status_source="https://gov.example/fr/radars")]), alice, "radars.csv")
    assert report.counts == {"new": 1}
    pledge = Pledge.objects.get(external_id="row-1")
    created = pledge.history.get()
    assert created.history_type == "+" and created.history_user == alice
    assert created.history_change_reason == "Imported from radars.csv"
    assert created.history_source.title.startswith("Spreadsheet import: radars.csv")
    assert created.eur_value == Decimal("80000000.00") and created.description == "Air-defence radars"
    assert list(created.sources.values_list("source__url", flat=True)) == ["https://gov.example/fr/radars"]
    event = pledge.status_events.get()
    assert (event.status, event.occurred_on, event.recorded_by) == ("announced", datetime.date(2025, 6, 2), alice)
    assert event.history.get().history_source == created.history_source
    assert (event.history.get().history_user, event.history.get().history_type) == (alice, "+")
    assert event.history.get().history_date == created.history_date
    assert abs(timezone.now() - created.history_date) < datetime.timedelta(minutes=5)
    assert pledge.status == "announced"


def test_records_added_after_an_import_get_fresh_ids(alice, coalition):
    run(_many_rows(5), alice)
    imported = set(Pledge.objects.values_list("id", flat=True))
    later = PledgeFactory(coalition=coalition)
    services.record_status_event(later, user=alice, status="committed", occurred_on=datetime.date(2025, 7, 1),
                                 source=SourceFactory(), reason="Signed")
    assert later.pk not in imported and later.pk > max(imported)
    assert later.history.count() >= 1 and later.status_events.count() == 1


def test_imported_values_are_checked_by_the_models_own_rules(alice, coalition):
    """The importer validates with Model.full_clean: a file is refused exactly where the admin would refuse."""
    cases = [({"unit": "x" * 51, "quantity": "5"}, "unit"), ({"currency": "XXX"}, "currency"),
             ({"quantity": "12345678901234567", "unit": "troops"}, "quantity"),
             ({"quantity": "1.234", "unit": "troops"}, "quantity"), ({"earmarked_from": "1899"}, "earmarked_from"),
             ({"amount": "5.001"}, "amount")]
    for values, column in cases:
        report = run(template_csv([pledge_row(**values)]), alice)
        instance = PledgeFactory.build(**{k: Decimal(v) if k in ("quantity", "amount") else v
                                          for k, v in values.items()})
        assert [c for _, c, _ in report.errors] == [column], (values, report.errors)
        with pytest.raises(ValidationError) as refused:
            instance.full_clean(exclude=["coalition", "nation", "published_by"])
        assert column in refused.value.message_dict


def test_imported_pledges_are_drafts_unless_a_reviewer_publishes(alice, rita, coalition):
    with pytest.raises(PermissionDenied):
        kiel_import(alice, publish=True)
    kiel_import(rita, publish=True)
    assert set(Pledge.objects.values_list("publication", flat=True)) == {"published"}
    assert Pledge.objects.filter(published_by=rita).count() == 8


def test_a_dataset_import_keeps_sources_editors_added(alice, coalition):
    kiel_import(alice)
    pledge = Pledge.objects.get(external_id="kiel:ZZH2")
    extra = SourceFactory()
    services.set_related(pledge, "sources", [*pledge.sources.all(), extra], user=alice, reason="Found another")
    assert kiel_import(alice).counts == {"unchanged": 8}
    assert extra in pledge.sources.all()


def test_dry_run_writes_nothing(alice, coalition):
    before = snapshot()
    report = kiel_import(alice, dry_run=True)
    assert report.ok and report.counts["new"] == 8 and not report.applied
    assert snapshot() == before


# No query per row


def _many_rows(count, start=0):
    return template_csv([pledge_row(external_id=f"row-{n}", description=f"Radars, lot {n}",
                                    nation=["France", "Germany", "Poland"][n % 3], nation_code="",
                                    sources=f"https://gov.example/{n % 7}", objectives="Air policing",
                                    status="announced", status_on="2025-06-01",
                                    status_source=f"https://gov.example/{n % 7}")
                         for n in range(start, start + count)])


def test_import_makes_no_query_per_row(alice, coalition):
    NationFactory(name="France", country="FR")
    run(_many_rows(3), alice)  # nations, sources and the objective exist from here on
    queries = {}
    for count, start in ((10, 100), (200, 1000)):
        with CaptureQueriesContext(connection) as captured:
            report = run(_many_rows(count, start), alice)
        assert report.counts["new"] == count
        queries[count] = len(captured)
    # Batches, not rows: SQLite caps the parameters of one statement (999), so wide inserts come in batches of
    # 25 to 40 rows there; on PostgreSQL a batch is 1,000 rows.
    assert queries[200] - queries[10] < (200 - 10) / 5, queries


# Export


def test_export_then_import_into_an_empty_database_gives_identical_data(alice, rita, coalition):
    kiel_import(rita, publish=True)
    hand_entered = PledgeFactory(coalition=coalition, nation=Nation.objects.get(name="Norway"),
                                 description="Entered by hand; \"quoted\"\nover two lines", amount=Decimal("10"),
                                 currency="GBP", announced_on=datetime.date(2025, 3, 3), quantity=Decimal("4"),
                                 unit="ships", is_conditional=True, condition="=in the event of a ceasefire")
    hand_entered.revalue()
    hand_entered.save()
    hand_entered.sources.add(Source.objects.create(title="Statement; no URL", publisher="MoD"))
    services.publish_pledge(hand_entered, user=rita)
    objective = Objective.objects.create(coalition=coalition, title="Secure maritime routes; mine clearance",
                                         slug="maritime")
    hand_entered.objectives.add(objective)
    first = template.write_csv(template.export_rows(Pledge.objects.all()))
    xlsx = template.write_xlsx(template.export_rows(Pledge.objects.all()))

    _empty_the_tracker()
    report = run(first, rita, "pledges.csv", publish=True)
    assert report.ok, report.errors
    second = template.write_csv(template.export_rows(Pledge.objects.all()))

    def by_id(content):
        rows = list(csv.DictReader(io.StringIO(content.decode())))
        # A pledge entered by hand is exported as tracker:<its id>, and keeps that id as its external id.
        return sorted(rows, key=lambda row: row["external_id"])

    assert by_id(second) == by_id(first)
    assert "'=in the event" in first.decode()  # escaped for spreadsheets, and read back unescaped
    assert Pledge.objects.get(description__startswith="Entered by hand").condition == "=in the event of a ceasefire"
    sheet = load_workbook(io.BytesIO(xlsx)).active
    assert [cell.value for cell in sheet[1]] == template.HEADER


def _empty_the_tracker():
    from tracker.commitments.models import ItemDelivery, NationFigures, PledgeItem

    for model in (ItemDelivery, PledgeItem, StatusEvent, Pledge, Objective, NationFigures, Source, Nation, Coalition):
        model.history.all().delete()
        model.objects.all().delete()


def _sheet_rows(content):
    return [[cell for cell in row] for row in load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True)]


def test_our_xlsx_export_imports_into_an_empty_tracker_and_exports_again_identically(alice, rita, coalition):
    """Pledges whose nations, sources and objectives editors created (a body no ISO list knows, a state, a source
    without a URL, an objective) round-trip through XLSX: every cell the same, numbers and dates as cells."""
    guard = services.save_record(Nation(name="Atlantic Guard", slug="atlantic-guard", kind="alliance"), user=alice)
    fund = services.save_record(Nation(name="Reconstruction Fund", slug="fund", kind="fund", is_pass_through=True),
                                user=alice)
    state = NationFactory(name="Freedonia", country="AD")
    memo = services.save_record(Source(title="Memo from the ministry, 3 March", publisher="MoD"), user=alice)
    objective = services.save_record(Objective(coalition=coalition, title="Secure maritime routes; mine clearance",
                                               slug="maritime"), user=alice)
    for nation, amount, currency in ((guard, "1500000.50", "USD"), (fund, "2000000", "EUR"), (state, "10", "GBP")):
        pledge = services.save_record(Pledge(
            coalition=coalition, nation=nation, kind="military", description=f"{nation.name}; \"quoted\"\nlines",
            amount=Decimal(amount), currency=currency, announced_on=datetime.date(2025, 3, 3), quantity=Decimal("4"),
            unit="ships", is_conditional=nation == state, condition="=after a ceasefire" if nation == state else ""),
            user=alice)
        services.set_related(pledge, "sources", [memo], user=alice)
        services.set_related(pledge, "objectives", [objective], user=alice)
        services.record_status_event(pledge, user=alice, status="committed", occurred_on=datetime.date(2025, 4, 1),
                                     source=memo, delivered_eur=Decimal("5.25"))
        services.publish_pledge(pledge, user=rita)
    first = template.export_file(Pledge.objects.all(), "xlsx")

    _empty_the_tracker()
    report = run(first, rita, "pledges.xlsx", publish=True)
    assert report.ok, report.errors
    assert report.counts == {"new": 3}
    second = template.export_file(Pledge.objects.all(), "xlsx")
    assert _sheet_rows(second) == _sheet_rows(first)
    assert Nation.objects.get(name="Atlantic Guard").kind == "alliance"
    assert Nation.objects.get(name="Reconstruction Fund").is_pass_through
    assert Pledge.objects.get(nation__name="Freedonia").condition == "=after a ceasefire"
    header = _sheet_rows(first)[0]
    row = dict(zip(header, _sheet_rows(first)[1], strict=True))
    assert isinstance(row["amount"], float | int) and isinstance(row["announced_on"], datetime.datetime)


def test_blank_template_has_an_example_row_that_imports(alice, coalition):
    for fmt in ("csv", "xlsx"):
        report = run(template.blank(fmt), alice, f"template.{fmt}", dry_run=True)
        assert report.ok, report.errors
        assert report.counts == {"new": 1}
    assert load_workbook(io.BytesIO(template.blank("xlsx")))["columns"]["A2"].value == "external_id"


# The command


def test_import_command_reports_the_outcome_and_refuses_bad_files(alice, coalition, tmp_path, capsys):
    call_command("import_pledges", str(KIEL), "--format", "kiel", "--user", "alice")
    assert "Imported kiel_quirks.csv: 8 new" in capsys.readouterr().out
    call_command("import_pledges", str(KIEL), "--format", "kiel", "--user", "alice", "--no-progress")
    assert "8 unchanged" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_bytes(template_csv([pledge_row(kind="weapons")]))
    with pytest.raises(CommandError, match="1 problem"):
        call_command("import_pledges", str(bad), "--user", "alice", "--no-progress")
    assert "line 2, kind:" in capsys.readouterr().err
    with pytest.raises(CommandError, match="reviewers"):
        call_command("import_pledges", str(KIEL), "--format", "kiel", "--user", "alice", "--publish")


def test_after_imports_each_pledges_current_state_is_its_open_period(alice, coalition):
    """Today's totals read the pledges' own columns: imports that add, revise and advance pledges keep them
    equal to the period in force today."""
    from tests.commitments.test_timeline import assert_todays_state_is_the_open_period

    kiel_import(alice)
    rows = [pledge_row(status="announced", status_on="2025-06-02", status_source="https://gov.example/fr/radars"),
            pledge_row(external_id="row-2", amount="5,000,000", is_conditional="yes", condition="after a ceasefire")]
    assert run(template_csv(rows), alice, "first.csv").ok
    rows[0].update(amount="95,000,000", status="delivered", status_on="2025-09-01", delivered_eur="95,000,000")
    rows[1].update(is_conditional="no", condition="")
    report = run(template_csv(rows), alice, "second.csv")
    assert report.counts == {"changed": 2}, report.errors
    assert_todays_state_is_the_open_period(Pledge.objects.all())
    assert Pledge.objects.get(external_id="row-1").status == "delivered"
