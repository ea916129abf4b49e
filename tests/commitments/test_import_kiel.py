"""Importing real Kiel releases faithfully: every value row, deliveries as dated events, equipment items as data.

The fixture kiel_release.csv has a later release's layout (a blank first column, headers in another case and
order, a column added) and each quirk of a full release: value rows to sum, a package with no value row, dates
written as words and a day that does not exist, tranches in two currencies, a currency the ECB does not publish,
a citation in words, deliveries with and without their own source, more delivered than pledged, and blank rows.
"""
import csv
import datetime
import io
import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum

from tests.factories import CoalitionFactory
from tracker.commitments import selectors
from tracker.commitments.imports import importer, kiel
from tracker.commitments.models import Coalition, ItemDelivery, Pledge, PledgeItem, Source, StatusEvent

FIXTURES = Path(__file__).parent / "fixtures"
RELEASE = FIXTURES / "kiel_release.csv"
RELEASE_DATE = datetime.date(2024, 6, 30)


@pytest.fixture
def coalition(db):
    return CoalitionFactory(name="Coalition of the willing", slug="coalition-of-the-willing")


def release(user, data=None, release_date=RELEASE_DATE, name="kiel_release.csv", **options):
    return importer.import_file(RELEASE.read_bytes() if data is None else data, name, fmt="kiel", user=user,
                                release_date=release_date, **options)


def file_rows(data=None):
    return list(csv.DictReader(io.StringIO((RELEASE.read_bytes() if data is None else data).decode())))


def column_sums(column, data=None):
    """{donor: sum of a money column}, as a reader of the file would add it up."""
    sums = defaultdict(Decimal)
    for row in file_rows(data):
        value = kiel.money(row[column]) if row[column].strip() else None
        if value is not None:
            sums[row["countries"]] += value
    return dict(sums)


def notes(report, key):
    return [note for outcome in report.outcomes if outcome.key == key for note in outcome.notes]


def pledge(key):
    return Pledge.objects.get(external_id=f"kiel:{key}")


def test_a_full_release_imports_completely_and_says_what_it_skipped(alice, coalition):
    report = release(alice)
    assert report.ok, report.errors
    assert report.counts == {"new": 10}
    assert report.skipped == 2  # a row of stray text and a trailing row holding one 0: neither ID nor donor
    assert "2 row(s) with neither an ID nor a donor were skipped." in report.notes


def test_columns_are_found_by_header_wherever_they_stand_and_whatever_their_case(alice, coalition):
    release(alice)  # the file opens with a blank column, writes "countries" and shouts one header
    assert pledge("EUF1").delivered_eur == Decimal("2000000000")
    assert pledge("DEM1").nation.name == "Germany"


def test_each_donors_kiel_eur_equals_the_files_converted_value_column_to_the_euro(alice, coalition):
    release(alice)
    kept = dict(Pledge.objects.values_list("nation__name").annotate(total=Sum("source_eur_value"))
                .values_list("nation__name", "total"))
    expected = column_sums("Converted Value in EUR")
    assert {donor: kept.get(donor) for donor in expected} == expected


def test_a_package_is_worth_the_sum_of_its_value_rows_and_item_rows_never_count(alice, coalition):
    release(alice)
    germany = pledge("DEM1")  # three tranches of EUR 1 bn; an item row repeats the source's EUR 3 bn
    assert (germany.amount, germany.currency, germany.eur_value) == (Decimal("3000000000"), "EUR",
                                                                   Decimal("3000000000"))
    assert germany.source_eur_value == Decimal("3000000000")
    assert (germany.earmarked_from, germany.earmarked_to) == (2024, 2026)


def test_a_package_without_a_value_row_is_not_valued_and_never_given_the_sources_raw_figure(alice, coalition):
    report = release(alice)
    canada = pledge("CAF1")  # its only row gives CAD 500 m "as given by source", which Kiel does not count
    assert canada.amount is None and canada.eur_value is None and canada.source_eur_value is None
    assert canada.valuation_basis == Pledge.Valuation.NOT_VALUED
    assert any("not valued in this release" in note for note in notes(report, "kiel:CAF1"))


def test_tranches_in_two_currencies_are_each_converted_on_their_own(alice, coalition):
    report = release(alice)
    britain = pledge("GBM1")
    from tracker.commitments import valuation

    on = datetime.date(2023, 1, 16)
    expected = (valuation.to_eur(Decimal("100000000"), valuation.eur_rate("GBP", on))
                + valuation.to_eur(Decimal("50000000"), valuation.eur_rate("USD", on)))
    assert (britain.amount, britain.currency, britain.eur_value) == (expected, "EUR", expected)
    assert britain.source_eur_value == Decimal("160000000")
    assert "Value as given: GBP 100,000,000; USD 50,000,000." in britain.description
    assert any("several currencies" in note for note in notes(report, "kiel:GBM1"))


def test_a_currency_the_ecb_does_not_publish_is_valued_at_kiels_eur_figure_and_says_so(alice, coalition):
    report = release(alice)
    taiwan = pledge("TWF1")
    assert (taiwan.amount, taiwan.currency, taiwan.eur_value) == (Decimal("3200000"), "EUR", Decimal("3200000"))
    assert "Value as given: TWD 100,000,000; valued at Kiel's EUR figure" in taiwan.description
    assert any("TWD 100,000,000: no ECB rate" in note for note in notes(report, "kiel:TWF1"))


def test_a_currency_with_no_rate_and_no_kiel_eur_figure_is_an_error(alice, coalition):
    data = RELEASE.read_text().replace('TWD,,,,,,,,"100,000,000","3,200,000"', 'TWD,,,,,,,,"100,000,000",.')
    report = release(alice, data.encode())
    assert [(column, message[:22]) for _, column, message in report.errors] == [
        ("Original Currency", "Unknown currency “TWD”")]
    assert not Pledge.objects.exists()


def test_an_unknown_donor_is_an_error_naming_it(alice, coalition):
    report = release(alice, RELEASE.read_text().replace(",Taiwan,", ",Atlantis,").encode())
    assert [(line, column) for line, column, _ in report.errors] == [(10, "countries")]
    assert "Atlantis" in report.errors[0][2]


@pytest.mark.parametrize("cell", ["unspecified", "Undisclosed", "not known yet"])
def test_dates_written_as_words_are_unknown_dates_with_a_note(cell):
    day, precision, note = kiel.parse_date(cell)
    assert (day, precision) == (None, "unknown") and f"“{cell}” is words" in note


def test_a_day_that_does_not_exist_is_read_at_the_precision_that_survives(alice, coalition):
    assert kiel.parse_date("06/31/2022")[:2] == (datetime.date(2022, 6, 1), "month")
    assert kiel.parse_date("until 06/31/2022")[:2] == (datetime.date(2022, 6, 30), "until")
    report = release(alice)
    poland = pledge("PLM1")
    assert (poland.announced_on, poland.announced_precision) == (datetime.date(2022, 6, 30), "until")
    assert any("does not exist: read as June 2022" in note for note in notes(report, "kiel:PLM1"))


@pytest.mark.parametrize("cell", ["13/1/2022", "13/2022", "12:30"])
def test_numbers_that_are_no_date_at_all_are_refused_by_the_parser(cell):
    with pytest.raises(kiel.CellError):
        kiel.parse_date(cell)


def test_a_package_with_an_unknown_date_counts_from_the_release_by_which_it_was_known(alice, coalition):
    release(alice)
    budget = pledge("DEM2")
    assert budget.announced_on is None and budget.announced_precision == "unknown"
    assert list(budget.status_events.values_list("status", "occurred_on")) == [("announced", RELEASE_DATE)]
    day_before = RELEASE_DATE - datetime.timedelta(days=1)
    assert not selectors.with_state(Pledge.objects.filter(pk=budget.pk), day_before).exists()
    assert selectors.with_state(Pledge.objects.filter(pk=budget.pk), RELEASE_DATE).exists()


def test_deliveries_become_status_events_on_the_release_date_with_their_source(alice, coalition):
    release(alice)
    germany = pledge("DEM1")
    delivery = germany.status_events.get(status="partially_delivered")
    assert (delivery.occurred_on, delivery.delivered_eur) == (RELEASE_DATE, Decimal("1500000000"))
    assert delivery.source.url == "https://www.bundesregierung.de/deliveries" and delivery.source.is_official
    britain = pledge("GBM1")  # every row says Deliveries = Commitments
    assert britain.status == "delivered"
    eu = pledge("EUF1")  # no delivery source: the release itself is cited
    event = eu.status_events.get(status="partially_delivered")
    assert event.source.title.startswith("Kiel Ukraine Support Tracker file: kiel_release.csv, release of 2024-06-30")


def test_tracker_wide_delivered_eur_equals_the_files(alice, coalition):
    release(alice)
    delivered = Pledge.objects.aggregate(total=Sum("delivered_eur"))["total"]
    assert delivered == sum(column_sums("TOTAL MONETARY VALUE DELIVERED IN EUR").values())


def test_a_release_with_deliveries_needs_its_date(alice, coalition):
    report = release(alice, release_date=None)
    assert not report.ok
    assert report.errors[0][1] == "file" and "give the release's date" in report.errors[0][2]
    assert not Pledge.objects.exists()


def test_more_delivered_than_pledged_is_kept_as_given_with_notes(alice, coalition):
    report = release(alice)
    norway = pledge("NOM1")
    assert norway.delivered_eur == Decimal("4000000")
    launchers = norway.items.get()
    assert launchers.deliveries.get().quantity == Decimal("2500")
    found = notes(report, "kiel:NOM1")
    assert any("2,500 units of “M72 rocket launcher” delivered, more than the 2,000 pledged" in n for n in found)
    assert any("EUR 4,000,000.00 delivered exceeds the pledged value" in n for n in found)


def test_equipment_items_are_data_with_units_pledged_and_delivered(alice, coalition):
    release(alice)
    germany = pledge("DEM1")
    items = list(germany.items.order_by("position"))
    assert [(i.name, i.item_type, i.sub_type, i.quantity, i.quantity_undisclosed) for i in items] == [
        ("Leopard 2A6", "Heavy weapon", "Main Battle Tank (MBT)", Decimal("14"), False),
        ("IRIS-T SLM", "Heavy weapon", "Anti-aircraft surface-to-air missile (SAM) system (medium-range)",
         Decimal("4"), False),
        ("155mm artillery round", "Ammunition for heavy weapon", "155mm howitzer ammunition", None, True),
    ]
    assert (items[0].unit_price, items[0].unit_price_currency) == (Decimal("10000000"), "USD")
    delivered = {d.item.name: d.quantity for d in ItemDelivery.objects.filter(item__pledge=germany)}
    assert delivered == {"Leopard 2A6": Decimal("14"), "IRIS-T SLM": Decimal("2")}
    assert germany.description == "Germany's first package: three yearly tranches."  # no item list pasted in
    poland = pledge("PLM1").items.get()  # "Deliveries = Commitments": all 18 delivered
    assert poland.deliveries.get().quantity == Decimal("18")


def test_citations_in_words_become_sources_without_a_url(alice, coalition):
    release(alice)
    email = Source.objects.get(title__startswith="E-mail from the Ministry of Defence")
    assert email.url == "" and email in pledge("GBM1").sources.all()
    assert email.publisher == "Cited in the Kiel Ukraine Support Tracker"


def test_reimporting_the_release_changes_nothing(alice, coalition):
    release(alice)
    counts = {model: model.objects.count() for model in (Pledge, StatusEvent, PledgeItem, ItemDelivery, Source)}
    history = Pledge.history.count()
    assert release(alice).counts == {"unchanged": 10}
    assert {model: model.objects.count() for model in counts} == counts
    assert Pledge.history.count() == history


def test_a_later_release_reporting_more_delivered_adds_a_later_event(alice, coalition):
    release(alice)
    later = RELEASE_DATE + datetime.timedelta(days=92)
    data = RELEASE.read_text().replace('"1,500,000,000"', '"2,400,000,000"')
    report = release(alice, data.encode(), release_date=later, name="kiel_release_2.csv")
    assert report.counts == {"changed": 1, "unchanged": 9}
    germany = pledge("DEM1")
    assert list(germany.status_events.filter(status="partially_delivered").values_list(
        "occurred_on", "delivered_eur")) == [(RELEASE_DATE, Decimal("1500000000")), (later, Decimal("2400000000"))]

    def delivered(as_of):
        return selectors.with_state(Pledge.objects.filter(pk=germany.pk), as_of).get().state_delivered_eur

    assert delivered(RELEASE_DATE) == Decimal("1500000000") and delivered(later) == Decimal("2400000000")


def test_an_empty_tracker_takes_a_release_in_one_command_naming_a_new_coalition(alice, tmp_path, capsys):
    call_command("import_pledges", str(RELEASE), "--format", "kiel", "--user", "alice", "--no-progress",
                 "--coalition", "Ukraine Defense Contact Group", "--release-date", "2024-06-30")
    out = capsys.readouterr().out
    assert "Imported kiel_release.csv: 10 new (1 new coalitions" in out
    assert "note: 2 row(s) with neither an ID nor a donor were skipped." in out
    coalition = Coalition.objects.get(name="Ukraine Defense Contact Group")
    assert set(Pledge.objects.values_list("coalition", flat=True)) == {coalition.pk}
    with pytest.raises(CommandError, match="release"):
        call_command("import_pledges", str(RELEASE), "--format", "kiel", "--user", "alice", "--no-progress")
    with pytest.raises(CommandError, match="not a date"):
        call_command("import_pledges", str(RELEASE), "--format", "kiel", "--user", "alice",
                     "--release-date", "30/06/2024")


def test_how_many_tanks_were_pledged_and_delivered_is_answered_by_the_api_and_a_page(rita, coalition, client):
    from rest_framework.test import APIClient

    release(rita, publish=True)
    api = APIClient()
    rows = {r["key"]: r for r in api.get("/api/v1/summaries/by-item-type/").json()["results"]}
    tanks = rows["Main Battle Tank (MBT)"]  # 14 Leopard 2A6, 31 M1 Abrams, 14 Challenger 2
    assert (tanks["units_pledged"], tanks["units_delivered"], tanks["items"]) == ("59.00", "28.00", 3)
    assert rows["155mm howitzer ammunition"]["units_pledged"] is None  # undisclosed, never 0
    assert rows["155mm howitzer ammunition"]["items_undisclosed"] == 1
    earlier = {r["key"]: r for r in api.get("/api/v1/summaries/by-item-type/",
                                             {"as_of": "2024-06-29"}).json()["results"]}
    assert earlier["Main Battle Tank (MBT)"]["units_delivered"] is None  # nothing delivered before the release
    germany = api.get("/api/v1/pledges/", {"nation": "germany"}).json()["results"]
    leopard = next(i for p in germany for i in p["items"] if i["name"] == "Leopard 2A6")
    assert (leopard["quantity"], leopard["delivered_quantity"], leopard["delivered_on"]) == (
        "14.00", "14.00", "2024-06-30")
    assert next(p for p in germany if p["items"])["source_eur_value"] == "3000000000.00"
    page = client.get("/coalitions/coalition-of-the-willing/").content.decode()
    row = re.search(r"Main Battle Tank \(MBT\)</a></td>(.*?)</tr>", page, re.S).group(1)
    assert re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).split() == ["Heavy", "weapon", "59", "28", "3"]
