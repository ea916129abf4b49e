"""The OpenAPI document matches what the server does."""
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tracker.api.models import ApiToken
from tracker.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ = settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


@pytest.fixture(autouse=True)
def _keep_the_test_connection_open():
    """Calling the WSGI app directly fires request_started and request_finished, which would close the
    test's transaction connection; Django's own test client disconnects the same handler."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_schema_is_served_as_json_on_request(client):
    for response in (client.get("/api/v1/schema/", HTTP_ACCEPT="application/json"),
                     client.get("/api/v1/schema/?format=json")):
        assert response.status_code == 200
        document = response.json()
        assert document["openapi"].startswith("3.")
        assert "/api/v1/pledges/" in document["paths"]
        assert "/api/v1/summaries/by-nation/" in document["paths"]


@pytest.mark.parametrize("url", ["/api/v1/docs/"])
def test_api_docs_load_nothing_from_the_internet(client, url):
    page = client.get(url).content.decode()
    assert client.get(url).status_code == 200
    external = re.findall(r"""(?:src|href)=["'](https?:)?//""", page)
    assert external == []
    for asset in re.findall(r"""src=["'](/static/[^"']+)["']""", page):
        assert client.get(asset).status_code == 200, asset


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/pledges/", "/api/v1/pledges/{id}/", "/api/v1/summaries/by-nation/",
                                  "/api/v1/summaries/by-objective/", "/api/v1/summaries/by-month/",
                                  "/api/v1/nations/", "/api/v1/sources/", "/api/v1/memberships/"])
def test_real_responses_match_the_schema(demo, path):
    from tracker.commitments.models import Pledge

    operation = schema[path]["GET"]
    parameters = {"id": Pledge.objects.filter(publication="published").first().pk} if "{id}" in path else {}
    case = operation.Case(path_parameters=parameters)
    response = case.call()
    assert response.status_code == 200
    assert response.json().get("results", [response.json()])  # something to validate
    case.validate_response(response, checks=CHECKS)


@pytest.mark.django_db(transaction=False)
@schema.parametrize()
@FUZZ
def test_every_operation_as_anonymous_gives_no_server_error_or_undocumented_status(case, demo):
    case.call_and_validate(checks=CHECKS)


@pytest.mark.django_db(transaction=False)
@schema.parametrize()
@FUZZ
def test_every_operation_as_editor_gives_no_server_error_or_undocumented_status(case, demo, alice):
    _, key = ApiToken.issue(alice, "fuzz")
    case.call_and_validate(headers={"Authorization": f"Token {key}"}, checks=CHECKS)
