"""The OpenAPI document matches what the server does: schemathesis runs every check it has over every operation,
as an anonymous reader, an editor and a reviewer, with data the document allows and data it forbids."""
import os
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS as registered_checks
from schemathesis.checks import load_all_checks, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from tracker.api.models import ApiToken
from tracker.commitments.summaries import GROUPINGS
from tracker.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ = settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))

# The documented exceptions. A request the document allows may still be refused, with a 400 naming the field,
# where what makes it wrong is the stored data or a rule across fields, which OpenAPI 3.0 cannot state:
DEPENDS_ON_DATA = {
    # references: they must name a record the tracker has (slugs and ids the schema cannot enumerate)
    "nation": "a nation the tracker has", "coalition": "a coalition the tracker has",
    "objective": "an objective the tracker has", "lead_nations": "nations the tracker has",
    "objectives": "objectives the tracker has", "sources": "sources the tracker has",
    "source": "a source the tracker has", "change_source": "a source the tracker has",
    # values another record already holds
    "slug": "unique", "name": "unique", "url": "unique (or: a URL or a publisher, on PATCH)",
    "country": "unique (or: a state needs one, on PATCH)",
    # a cursor is opaque: only the next/previous links the API gives are cursors
    "cursor": "only the API's own links",
    # a day in the future has no figures yet
    "as_of": "not after today",
}
ACROSS_FIELDS = {
    "currency": "needs an amount, and an ECB rate near the announcement date",
    "amount": "needs its currency; a delivery cannot exceed it",
    "quantity": "empty when undisclosed; a delivery cannot exceed it",
    "unit": "a quantity needs its unit", "target_unit": "a target quantity needs its unit",
    "condition": "a conditional pledge states its condition",
    "earmarked_to": "not before earmarked_from",
    "announced_on": "not after the pledge's first status event",
    "publisher": "a URL or a publisher, on PATCH",
    "occurred_on": "not before the pledge's announcement or last event",
    "status": "a step the pledge's stage allows",
    "delivered_quantity": "cumulative: not below an earlier delivery",
    "delivered_eur": "cumulative: not below an earlier delivery",
}
# ... and a well-formed If-Match naming another version of the record is a 412, by design.
STATE_STATUSES = {412: "If-Match names a version the record no longer has"}


def positive_data_acceptance_but_for_data(ctx, response, case):
    """positive_data_acceptance, excusing the refusals above (and only those)."""
    if response.status_code in STATE_STATUSES:
        return None
    if response.status_code == 400:
        named = set(response.json())
        if named <= set(DEPENDS_ON_DATA) | set(ACROSS_FIELDS):
            return None
    return positive_data_acceptance(ctx, response, case)


def negative_data_rejection_or_precondition(ctx, response, case):
    """negative_data_rejection, counting a 412 as the refusal it is: a stale If-Match is answered before the body
    is read, however invalid the body."""
    if response.status_code in STATE_STATUSES:
        return None
    return negative_data_rejection(ctx, response, case)


load_all_checks()
REPLACED = {positive_data_acceptance: positive_data_acceptance_but_for_data,
            negative_data_rejection: negative_data_rejection_or_precondition}
EVERY_CHECK = [REPLACED.get(check, check) for check in registered_checks.get_all()]
# NUL bytes are refused in every string (no database stores them; tests/api/test_hardening.py proves the 400s).
schema.config.generation.update(allow_x00=False)


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


@pytest.fixture
def document(client):
    return client.get("/api/v1/schema/?format=json").json()


def operations(document):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def parameter(document, path, name, method="get"):
    return next(p for p in document["paths"][path][method]["parameters"] if p["name"] == name)


def test_reads_are_documented_as_needing_no_authentication_and_writes_as_needing_it(document):
    for path, method, operation in operations(document):
        if method == "get":
            assert {} in operation["security"], path
        else:
            assert operation["security"] and {} not in operation["security"], (method, path)


def test_the_document_states_the_limits_and_types_of_query_parameters(document):
    assert parameter(document, "/api/v1/pledges/", "page_size")["schema"] == {
        "type": "integer", "minimum": 1, "maximum": 1000}
    year = parameter(document, "/api/v1/summaries/by-nation/", "year")["schema"]
    assert (year["minimum"], year["maximum"]) == (1900, 2100)
    for path, name in (("/api/v1/pledges/", "conditional"), ("/api/v1/pledges/", "example"),
                       ("/api/v1/sources/", "official"), ("/api/v1/summaries/totals/", "conditional")):
        assert parameter(document, path, name)["schema"] == {"type": "boolean"}, (path, name)
    as_of = parameter(document, "/api/v1/summaries/totals/", "as_of")["schema"]
    assert as_of["format"] == "date" and re.match(as_of["pattern"], "2025-01-01")
    assert not re.match(as_of["pattern"], "0001-01-01") and not re.match(as_of["pattern"], "9999-12-31")
    assert re.fullmatch(parameter(document, "/api/v1/pledges/", "stage")["schema"]["pattern"], "announced, delivered")


def test_writes_take_json_bodies_only_and_updates_require_a_change_reason(document):
    for path, method, operation in operations(document):
        if method in ("post", "put", "patch") and "requestBody" in operation:
            assert list(operation["requestBody"]["content"]) == ["application/json"], (method, path)
        if method in ("put", "patch"):
            required = operation["requestBody"]["content"]["application/json"]["schema"]["allOf"][1]["required"]
            assert required == ["change_reason"] and operation["requestBody"]["required"], (method, path)


@pytest.mark.parametrize("url", ["/api/v1/docs/"])
def test_api_docs_load_nothing_from_the_internet(client, url):
    page = client.get(url).content.decode()
    assert client.get(url).status_code == 200
    external = re.findall(r"""(?:src|href)=["'](https?:)?//""", page)
    assert external == []
    for asset in re.findall(r"""src=["'](/static/[^"']+)["']""", page):
        assert client.get(asset).status_code == 200, asset


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/", "/api/v1/pledges/", "/api/v1/pledges/{id}/",
                                  "/api/v1/summaries/by-nation/", "/api/v1/summaries/by-objective/",
                                  "/api/v1/summaries/by-month/", "/api/v1/nations/", "/api/v1/sources/",
                                  "/api/v1/memberships/"])
def test_real_responses_match_the_schema(demo, path):
    from tracker.commitments.models import Pledge

    operation = schema[path]["GET"]
    parameters = {"id": Pledge.objects.filter(publication="published").first().pk} if "{id}" in path else {}
    case = operation.Case(path_parameters=parameters)
    response = case.call()
    assert response.status_code == 200
    assert response.json().get("results", [response.json()])  # something to validate
    case.validate_response(response, checks=CHECKS)


# Every role, unless SCHEMA_FUZZ_ROLES names fewer: .ci/run fuzzes each role on one database (the editor on
# PostgreSQL, the others on SQLite), as what differs between roles is permissions, the same on either database.
ROLES = os.environ.get("SCHEMA_FUZZ_ROLES", "anonymous,editor,reviewer").split(",")
assert set(ROLES) <= {"anonymous", "editor", "reviewer"}, f"SCHEMA_FUZZ_ROLES: unknown role in {ROLES}"
CASES = {role: 0 for role in ROLES}
GROUPED_SUMMARIES = {f"/api/v1/summaries/{path}/" for grouping, path in GROUPINGS.items() if grouping != "totals"}


@pytest.fixture
def credentials(request):
    """The Authorization header of the role under test (none for anonymous)."""
    role = request.node.callspec.params["role"]
    user = {"editor": "alice", "reviewer": "rita"}.get(role)
    if user is None:
        return {}
    _, key = ApiToken.issue(request.getfixturevalue(user), "fuzz")
    return {"Authorization": f"Token {key}"}


@pytest.mark.django_db(transaction=False)
@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
@FUZZ
def test_every_operation_passes_every_check_for_every_role(case, demo, role, credentials):
    if role != "anonymous" and case.path in GROUPED_SUMMARIES:
        # One view serves every summary with the same parameters; staff differ from readers in what they see,
        # which totals/ shows: the other groupings are fuzzed for the anonymous reader only (CI time).
        pytest.skip("grouped summaries: fuzzed for the anonymous reader")
    CASES[role] += 1
    case.call_and_validate(headers=credentials, checks=EVERY_CHECK)
