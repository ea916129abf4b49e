"""What a caller meets first: the API root, which says where everything is, and responses readable in a browser."""
import pytest

pytestmark = pytest.mark.django_db
ROOT = "/api/v1/"


def links(root):
    for section in ("resources", "summaries", "exports"):
        for name, link in root[section].items():
            yield f"{section}.{name}", link
    yield "schema", root["schema"]
    yield "docs", root["docs"]


def test_the_root_lists_every_resource_summary_export_the_schema_and_the_docs_with_absolute_urls(api, client, demo):
    response = api.get(ROOT)
    assert response.status_code == 200
    root = response.json()
    assert "DefaultRouter" not in response.content.decode()
    assert set(root["resources"]) == {"coalitions", "nations", "memberships", "objectives", "sources", "pledges"}
    assert set(root["summaries"]) == {"totals", "by-nation", "by-objective", "by-kind", "by-status", "by-month",
                                      "by-item-type", "by-coalition"}
    assert root["exports"]["pledges-csv"]["url"] == "http://testserver/api/v1/pledges/?format=csv"
    for name, link in links(root):
        assert link["url"].startswith("http://testserver/api/v1/"), name
        assert link["description"] and "\n" not in link["description"], name
        assert api.get(link["url"]).status_code == 200, name
    # Every collection the OpenAPI document has is listed: nothing a caller could miss.
    document = client.get("/api/v1/schema/?format=json").json()
    listed = {link["url"].split("?")[0].removeprefix("http://testserver") for _, link in links(root)}
    collections = {path for path in document["paths"] if "{" not in path and path != ROOT}
    assert collections <= listed, collections - listed


def test_the_root_is_in_the_openapi_document_with_its_links_required(client):
    document = client.get("/api/v1/schema/?format=json").json()
    schema = document["paths"][ROOT]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    root = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    assert {"resources", "summaries", "exports", "schema", "docs"} <= set(root["required"])
    summaries = document["components"]["schemas"][root["properties"]["summaries"]["$ref"].rsplit("/", 1)[-1]]
    assert "by-nation" in summaries["required"]


def test_the_root_refuses_parameters_it_does_not_take_and_formats_it_cannot_give(api, db):
    response = api.get(ROOT, {"nation": "GB"})
    assert response.status_code == 400 and "nation" in response.json()
    response = api.get(ROOT, {"format": "csv"})
    assert response.status_code == 400 and "format" in response.json()
    assert api.post(ROOT, {}, format="json").status_code == 405


def test_the_browsable_api_indents_the_json_and_plain_json_stays_compact(api, demo):
    page = api.get("/api/v1/pledges/", {"page_size": 1}, HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert '\n  &quot;count&quot;: ' in page.content.decode()
    assert '\n    {\n      &quot;id&quot;: ' in page.content.decode()
    plain = api.get("/api/v1/pledges/", {"page_size": 1}).content
    assert plain.startswith(b'{"count":') and b"\n" not in plain
    asked = api.get("/api/v1/pledges/", {"page_size": 1}, HTTP_ACCEPT="application/json; indent=4").content
    assert asked.startswith(b'{\n  "count": ')
