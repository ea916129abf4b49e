"""What shared caches (CDNs, proxies) may keep: readers' pages and reads, briefly; never an editor's view."""
import pytest

pytestmark = pytest.mark.django_db

PUBLIC = ["/", "/pledges/", "/methodology/", "/api/v1/pledges/", "/api/v1/summaries/by-nation/", "/api/v1/"]


def directives(response):
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


@pytest.mark.parametrize("path", PUBLIC)
def test_anonymous_reads_may_be_kept_briefly_by_shared_caches(client, demo, path, settings):
    response = client.get(path)
    assert response.status_code == 200
    assert directives(response) == {"public", "max-age=30", "s-maxage=60", "stale-while-revalidate=300"}
    assert {"Cookie", "Authorization"} <= {v.strip() for v in response["Vary"].split(",")}
    assert not response.cookies


@pytest.mark.parametrize("path", PUBLIC)
def test_what_an_editor_sees_is_never_kept_by_a_shared_cache(client, alice, demo, path):
    client.force_login(alice)
    response = client.get(path)
    assert response.status_code == 200
    assert "private" in directives(response) and "public" not in directives(response)


def test_api_reads_with_a_key_and_the_admin_are_private(alice, client, demo):
    from rest_framework.test import APIClient

    from tracker.api.models import ApiToken

    _, key = ApiToken.issue(alice, "tests")
    keyed = APIClient()
    keyed.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = keyed.get("/api/v1/pledges/")
    assert response.status_code == 200
    assert "private" in directives(response) and "public" not in directives(response)
    login = client.get("/admin/login/")
    assert "private" in directives(login) and "public" not in directives(login)


def test_the_lifetimes_come_from_the_settings(client, demo, settings):
    settings.PUBLIC_CACHE_MAX_AGE, settings.PUBLIC_CACHE_S_MAXAGE = 5, 7
    assert {"max-age=5", "s-maxage=7"} <= directives(client.get("/pledges/"))


@pytest.mark.django_db
def test_no_answer_varies_on_the_browsers_language_as_the_url_alone_names_it(client):
    for path, language in (("/", "en-gb"), ("/de/", "de"), ("/uk/methodology/", "uk"), ("/api/v1/", "en-gb")):
        response = client.get(path, HTTP_ACCEPT_LANGUAGE="fr")
        assert response["Content-Language"] == language, path
        assert "accept-language" not in response.get("Vary", "").lower(), path
