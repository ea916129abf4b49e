import pytest
from rest_framework.test import APIClient

from tracker.api.models import ApiToken


@pytest.fixture
def api():
    return APIClient()


def _token_client(user):
    _, key = ApiToken.issue(user, "tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def editor_api(alice):
    return _token_client(alice)


@pytest.fixture
def reviewer_api(rita):
    return _token_client(rita)
