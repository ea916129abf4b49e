"""The reader site in a real browser (Debian's chromium via Playwright), against the live test server."""
import csv
import io
import re

import pytest
from django.core.management import call_command
from openpyxl import load_workbook

from tracker.commitments.models import Pledge

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def site(live_server, page):
    """The demo coalition on the live server; any request leaving the machine is blocked and recorded."""
    call_command("load_demo")
    outside = []

    def guard(route):
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.set_default_timeout(15_000)
    yield live_server.url, page
    assert outside == [], f"the page tried to load from outside: {outside}"


def headline_pledged(page):
    return page.locator("#headline ~ .cards li").first.locator(".figure").inner_text()


def test_dashboard_shows_charts_and_tables_of_the_demo_coalition(site):
    url, page = site
    page.goto(url + "/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Coalition of the willing (Ukraine)")
    charts = page.locator("figure.chart img")
    assert charts.count() == 5
    for i in range(5):  # each chart really drew: the SVG loaded and has a size
        assert charts.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.get_by_role("table", name="Contributors ranked by firm value pledged").locator("tbody tr").count() == 10
    assert "example" in page.locator(".notice").inner_text()
    assert "last updated" in page.locator("footer").inner_text()


def test_as_of_control_changes_the_figures_and_the_address(site):
    url, page = site
    page.goto(url + "/")
    today = headline_pledged(page)
    page.get_by_label("Figures as of").fill("2025-01-31")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"as_of=2025-01-31"))
    assert headline_pledged(page) != today
    assert "as they stood on 31 Jan 2025" in page.locator(".as-of").inner_text()
    page.get_by_role("link", name="Back to today").click()
    page.wait_for_url(re.compile(r"^(?!.*as_of=2025)"))
    assert headline_pledged(page) == today


def test_filtering_the_pledge_list(site):
    url, page = site
    page.goto(url + "/pledges/")
    page.get_by_label("Kind").select_option("military")
    page.get_by_label("Search").fill("vessels")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"kind=military"))
    assert page.get_by_role("status").inner_text().startswith("2 published pledges")
    rows = page.get_by_role("table", name="Pledges matching the filters").locator("tbody tr")
    assert rows.count() == 2
    assert "Training programme" not in page.content()


def test_from_the_dashboard_to_a_pledge_and_its_sources(site):
    url, page = site
    page.goto(url + "/")
    page.get_by_role("table", name="Contributors ranked by firm value pledged").get_by_role(
        "link", name="United Kingdom").click()
    page.wait_for_url(re.compile(r"/nations/united-kingdom/"))
    page.get_by_role("link", name="Training programme for Ukrainian recruits.").click()
    page.wait_for_url(re.compile(r"/pledges/\d+/"))
    assert "Partially delivered" in page.locator("#timeline ~ ol").inner_text()
    source_link = page.locator("#sources ~ ul a").first
    title = source_link.inner_text()
    source_link.click()
    page.wait_for_url(re.compile(r"/sources/\d+/"))
    assert page.get_by_role("heading", level=1).inner_text().startswith(title)
    assert "Training programme for Ukrainian recruits." in page.locator("#pledges ~ div").inner_text()


def test_downloads_open_as_spreadsheets(site, tmp_path):
    url, page = site
    page.goto(url + "/")
    with page.expect_download() as csv_download:
        page.locator("#by-nation ~ .downloads, #by-nation").locator("..").get_by_role("link", name="CSV").click()
    rows = list(csv.DictReader(io.StringIO(open(csv_download.value.path(), encoding="utf-8").read())))
    assert {"key", "label", "firm_announced_eur", "firm_announced_not_valued", "conditional_announced_eur",
            "pledges"} <= set(rows[0])
    assert "united-kingdom" in {row["key"] for row in rows}

    page.goto(url + "/pledges/?kind=military")
    with page.expect_download() as xlsx_download:
        page.get_by_role("link", name="Excel (XLSX)").click()
    saved = tmp_path / xlsx_download.value.suggested_filename
    assert saved.suffix == ".xlsx"
    xlsx_download.value.save_as(saved)
    sheet = load_workbook(saved).active
    assert sheet.max_row - 1 == Pledge.objects.filter(kind="military", publication="published").count()


@pytest.mark.parametrize("path", ["/", "/pledges/", "/nations/united-kingdom/",
                                  "/coalitions/coalition-of-the-willing/objectives/air-superiority/"])
def test_pages_fit_a_phone_screen_without_sideways_scrolling(site, path):
    url, page = site
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(url + path)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # Tables turn into labelled cards rather than overflowing.
    table = page.locator("table.stack").first
    assert table.evaluate("t => t.scrollWidth <= t.parentElement.clientWidth")


def test_keyboard_reaches_the_content_and_the_as_of_control(site):
    url, page = site
    page.goto(url + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"#content$"))
    page.get_by_label("Figures as of").focus()
    page.keyboard.type("03312025")  # typed as on a keyboard, in the date field's own order
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"as_of=2025-03-31"))


def test_an_embedded_chart_shows_its_chart_and_table(site):
    url, page = site
    page.goto(url + "/")
    page.locator("#by-objective").locator("..").get_by_role("link", name="Embed this chart").click()
    page.wait_for_url(re.compile(r"/embed/coalition-of-the-willing/objectives/"))
    chart = page.locator("figure.chart-desktop svg")
    assert chart.count() == 1 and chart.is_visible()
    assert "objectives" in chart.locator("title").first.text_content().lower()
    assert "example" in page.locator(".notice").inner_text()  # the example mark travels with the chart
    assert "<iframe" in page.locator("#snippet").input_value()
    page.get_by_text("Data table").click()
    assert page.get_by_role("table").locator("tbody tr").count() >= 3


def test_no_page_breaks_its_own_content_security_policy(site):
    url, page = site
    refused = []
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text
            else None)
    for path in ("/", "/pledges/", "/methodology/", "/embed/coalition-of-the-willing/nations/", "/admin/login/"):
        page.goto(url + path)
    page.goto(url + "/api/v1/docs/")
    page.wait_for_selector(".opblock")  # Swagger UI started: its script is a file, not inline
    assert refused == []


@pytest.mark.parametrize("width", [1280, 390])
def test_the_browsable_api_reads_without_scrolling_sideways(site, width):
    base, page = site
    page.set_viewport_size({"width": width, "height": 900})
    for path in ("/api/v1/", "/api/v1/pledges/?ordering=-eur_value&page_size=3", "/api/v1/summaries/by-nation/"):
        page.goto(f"{base}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
        wide = page.evaluate("[...document.querySelectorAll('pre')].filter(e => e.scrollWidth > e.clientWidth + 1)"
                             ".length")
        assert wide == 0, path
        assert '{\n  "' in page.locator(".response-info pre").inner_text(), path  # indented, one key a line
