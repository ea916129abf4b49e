import re
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import PledgeFactory, SourceFactory
from tracker.commitments import services
from tracker.commitments.models import Coalition, Nation, Objective, Pledge, Source

pytestmark = pytest.mark.django_db
DASHBOARD = "/coalitions/coalition-of-the-willing/"


def text(response):
    return re.sub(r"\s+", " ", response.content.decode())


def test_home_is_the_default_coalitions_dashboard(client, demo):
    page = text(client.get("/"))
    assert "Coalition of the willing (Ukraine)" in page
    for heading in ("Headline totals", "By contributor", "By objective", "By kind of support", "By status",
                    "Over time"):
        assert heading in page


def test_dashboard_totals_are_the_apis_totals(client, demo):
    api = client.get("/api/v1/summaries/totals/?coalition=coalition-of-the-willing").json()["results"][0]
    page = text(client.get(DASHBOARD))
    announced = Decimal(api["firm"]["announced"]["eur"])
    assert f"€{announced:,.0f} from 7 pledges" in page  # the full figure, in the headline's title
    assert f"{api['pledges']} published pledges" in page
    assert "Conditional, pledged" in page and "€450.00 million" in page  # kept apart, in a card of its own


def test_dashboard_shows_how_much_rests_on_the_largest_contributors_as_the_api_does(client, demo):
    api = client.get("/api/v1/summaries/by-nation/?coalition=coalition-of-the-willing").json()["concentration"]
    page = text(client.get(DASHBOARD))
    table = page[page.index('id="concentration"'):page.index("</table>", page.index('id="concentration"'))]
    for stage, label in (("announced", "Pledged (firm)"), ("committed", "Committed (firm)"),
                         ("delivered", "Delivered (firm)")):
        row = table[table.index(label):].split("</tr>")[0]
        shown = [f"{Decimal(api[stage][name]):,.2f}%" for name in ("top_1_percent", "top_3_percent", "top_5_percent")]
        assert all(figure in row for figure in shown), (stage, row)
        assert f"{Decimal(api[stage]['hhi']):,.0f}" in row
    assert "1 pledge not valued: in no share" in table  # the demo's delivery of unknown value


def test_each_nation_figure_links_to_the_pledges_it_sums(client, demo):
    api = client.get("/api/v1/summaries/by-nation/?coalition=coalition-of-the-willing").json()["results"]
    uk = next(row for row in api if row["key"] == "united-kingdom")
    link = "/pledges/?coalition=coalition-of-the-willing&amp;nation=united-kingdom"
    assert link in client.get(DASHBOARD).content.decode()
    listed = text(client.get(link.replace("&amp;", "&")))
    assert f"{uk['pledges']} published pledges" in listed


def test_as_of_date_changes_the_figures_and_travels_in_the_links(client, demo):
    today = text(client.get(DASHBOARD))
    earlier = text(client.get(DASHBOARD + "?as_of=2025-01-31"))
    assert "as they stood on 31 Jan 2025" in earlier
    assert "as_of=2025-01-31" in earlier  # the rows' links and the downloads keep the date
    # In January 2025 only the UK troops (undisclosed) and Denmark's air defence were announced.
    assert re.search(r"Pledged, firm</span><span class=\"figure\"><a [^>]+>€[\d.,]+ billion</a>", today)
    assert ">2 published pledges<" in earlier


def test_a_bad_query_string_names_the_parameter_and_is_not_a_server_error(client, demo):
    for query, name in [("as_of=2025-02-30", "as_of"), ("kind=tanks", "kind"), ("colour=red", "colour"),
                        ("conditional=maybe", "conditional")]:
        response = client.get(f"{DASHBOARD}?{query}")
        assert response.status_code == 400, query
        assert f"<strong>{name}</strong>" in response.content.decode()
    assert client.get("/pledges/?page=abc").status_code == 200  # a bad page number shows the first page


def test_anonymous_reader_never_sees_draft_pledges(client, demo):
    draft = Pledge.objects.get(publication="draft")
    for url in ["/", DASHBOARD, "/pledges/", "/pledges/?search=demining", "/nations/italy/",
                "/coalitions/coalition-of-the-willing/objectives/rebuild-capabilities/",
                f"/sources/{draft.sources.first().pk}/" if draft.sources.exists() else "/pledges/"]:
        assert "Engineering experts" not in client.get(url).content.decode(), url
    assert client.get(reverse("site:pledge", args=[draft.pk])).status_code == 404


def test_staff_see_no_drafts_on_reader_pages_either(client, demo, alice):
    client.force_login(alice)
    draft = Pledge.objects.get(publication="draft")
    assert client.get(reverse("site:pledge", args=[draft.pk])).status_code == 404
    assert "Engineering experts" not in client.get("/pledges/").content.decode()


def test_undisclosed_quantities_read_undisclosed_and_conditions_are_stated(client, demo):
    page = text(client.get("/nations/united-kingdom/"))
    assert '<span class="undisclosed">undisclosed</span>' in page
    assert "Conditional: in the event of a ceasefire" in page
    troops = Pledge.objects.get(external_id="demo:uk-ceasefire-troops")
    detail = text(client.get(troops.get_absolute_url()))
    assert "undisclosed" in detail and "0 troops" not in detail


def test_example_data_is_marked_on_every_page_showing_it(client, demo):
    example_pledge = Pledge.objects.filter(publication="published", is_example=True).first()
    example_source = Source.objects.filter(is_example=True).first()
    for url in ["/", "/pledges/", example_pledge.get_absolute_url(), f"/sources/{example_source.pk}/",
                f"/nations/{example_pledge.nation.slug}/"]:
        assert 'class="example"' in client.get(url).content.decode(), url


def test_every_page_says_when_the_data_was_last_updated(client, demo):
    for url in ["/", "/pledges/", "/nations/france/", "/embed/coalition-of-the-willing/nations/"]:
        assert "last updated" in client.get(url).content.decode(), url


def test_pledge_page_shows_timeline_with_sources_and_published_history(client, demo, rita):
    pledge = Pledge.objects.get(external_id="demo:uk-training")
    cited = SourceFactory(title="Ministry of Defence correction")
    pledge.description = "Training programme for 2,000 Ukrainian recruits."
    services.save_record(pledge, user=rita, reason="Corrected the description", source=cited)
    page = text(client.get(pledge.get_absolute_url()))
    assert "Partially delivered" in page
    assert "250,000,000 GBP" in page and "3 Mar 2025" in page
    assert "Corrected the description" in page
    assert "Training programme for Ukrainian recruits. → Training programme for 2,000 Ukrainian recruits." in page
    assert "Ministry of Defence correction" in page
    assert "rita" not in page  # staff names stay internal


def test_changes_made_while_a_draft_never_show_in_the_history(client, demo, alice, rita):
    draft = Pledge.objects.get(publication="draft")
    draft.description = "Secret first wording"
    services.save_record(draft, user=alice, reason="Draft edit")
    draft.sources.add(SourceFactory())
    services.publish_pledge(draft, user=rita, reason="Reviewed")
    page = text(client.get(draft.get_absolute_url()))
    assert "Draft edit" not in page and "Engineering experts for demining" not in page


def test_source_page_lists_what_cites_it(client, demo):
    pledge = Pledge.objects.get(external_id="demo:uk-training")
    source = pledge.status_events.first().source
    page = text(client.get(f"/sources/{source.pk}/"))
    assert pledge.description in page
    assert "became" in page


def test_objective_page_shows_target_coverage_and_contributors(client, demo):
    objective = Objective.objects.get(slug="air-superiority")
    page = text(client.get(objective.get_absolute_url()))
    assert "24 aircraft" in page and "25.00% of the aircraft" in page
    assert "France" in page and "Denmark" in page


def test_pledge_list_filters_and_searches(client, demo):
    military = text(client.get("/pledges/?kind=military"))
    assert "4 published pledges" in military and "Training programme" not in military
    found = text(client.get("/pledges/?search=vessels"))
    assert "2 published pledges" in found
    firm = text(client.get("/pledges/?conditional=false&nation=FR"))
    assert "0 published pledges" in firm


def test_downloads_sit_next_to_tables_and_give_spreadsheets(client, demo):
    page = client.get(DASHBOARD).content.decode()
    links = re.findall(r'href="(/api/v1/summaries/[^"]+format=(?:csv|xlsx))"', page)
    assert len(links) == 12  # CSV and XLSX for each of the six tables
    csv = client.get(links[0].replace("&amp;", "&"))
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    assert "announced_eur" in csv.content.decode()
    pledges = re.search(r'href="(/api/v1/pledges/\?[^"]*format=xlsx)"', client.get("/pledges/?kind=military")
                        .content.decode()).group(1)
    xlsx = client.get(pledges.replace("&amp;", "&"))
    assert xlsx.content[:2] == b"PK"  # a zip: an Excel workbook


def test_charts_are_svg_files_that_load_nothing_from_the_internet(client, demo):
    for name in ("nations", "objectives", "kinds", "statuses", "timeline"):
        response = client.get(f"/charts/coalition-of-the-willing/{name}.svg?as_of=2025-06-01")
        assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
        svg = response.content.decode()
        assert "<script" not in svg and "<image" not in svg and "<use" not in svg
        assert " src=" not in svg and "@import" not in svg and "url(http" not in svg
        # Bars link to the pledges they sum, on this site (absolute, so the file works wherever it is shown).
        assert all(link.startswith("http://testserver/pledges/") for link in re.findall(r' href="([^"]+)"', svg))
    assert client.get("/charts/coalition-of-the-willing/pie.svg").status_code == 404


def test_charts_can_be_embedded_in_other_sites_but_pages_cannot(client, demo):
    embed = client.get("/embed/coalition-of-the-willing/objectives/")
    assert embed.status_code == 200 and "X-Frame-Options" not in embed
    assert "<svg" in embed.content.decode() and "<table" in embed.content.decode()
    assert client.get(DASHBOARD)["X-Frame-Options"] == "DENY"


def test_other_coalitions_have_their_own_dashboards(client, demo):
    other = Coalition.objects.create(name="Baltic air policing", slug="baltic")
    PledgeFactory(coalition=other, description="Two fighter jets for the Baltic", publication="published",
                  published_at="2025-01-01T00:00:00Z")
    page = text(client.get("/coalitions/baltic/"))
    assert "Baltic air policing" in page and "1 published pledge" in page
    assert client.get("/coalitions/nope/").status_code == 404


def test_site_works_without_any_coalition(client):
    assert "No coalition yet" in client.get("/").content.decode()


@pytest.mark.parametrize("url", [
    "/", "/pledges/", "/pledges/?as_of=2025-06-01", "/nations/{nation}/",
    "/coalitions/{coalition}/objectives/{objective}/",
    "/sources/{source}/", "/pledges/{pledge}/", "/embed/{coalition}/timeline/", "/charts/{coalition}/nations.svg",
])
def test_no_page_makes_more_queries_as_the_data_grows(client, demo, url, django_assert_num_queries):
    pledge = Pledge.objects.get(external_id="demo:dk-air-defence")
    objective, source = pledge.objectives.first(), pledge.status_events.first().source
    nation = pledge.nation
    url = url.format(nation=nation.slug, coalition=pledge.coalition.slug, objective=objective.slug,
                     source=source.pk, pledge=pledge.pk)

    def grow(count):
        for _ in range(count):
            new = PledgeFactory(coalition=pledge.coalition, nation=nation, publication="published",
                                published_at="2025-01-01T00:00:00Z")
            new.objectives.add(objective)
            new.sources.add(source)
            services.record_status_event(new, user=None, status="committed", occurred_on=new.announced_on,
                                         source=source)

    def queries():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    grow(1)
    few = queries()
    grow(20)
    with django_assert_num_queries(few):
        client.get(url)


def test_nation_page_lists_disclosed_memberships_only(client, demo):
    uk = Nation.objects.get(slug="united-kingdom")
    membership = uk.memberships.first()
    page = text(client.get("/nations/united-kingdom/"))
    assert membership.coalition.name in page
    membership.is_disclosed = False
    services.save_record(membership, user=None, reason="test")
    assert "No disclosed membership" in text(client.get("/nations/united-kingdom/"))


def test_every_page_carries_a_policy_that_runs_no_injected_script(client, demo):
    for url in ("/", DASHBOARD, "/pledges/", "/methodology/", "/api/v1/pledges/", "/admin/login/",
                "/api/v1/docs/"):
        policy = client.get(url)["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["script-src"] == "'self'", url  # no 'unsafe-inline', no other host
        assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    embed = client.get("/embed/coalition-of-the-willing/objectives/")["Content-Security-Policy"]
    assert "frame-ancestors *" in embed and "script-src 'self'" in embed
