"""With read replicas (DATABASE_REPLICA_URLS), anonymous readers' reads go to a replica and everything else to
the primary, so whoever writes reads their own write. Tested with Django's MIRROR setting: the replica alias is a
second connection to the test database."""
import pytest
from django.core.management import call_command
from django.db import connections
from django.test.utils import CaptureQueriesContext

from tracker.commitments.models import Pledge

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])


def pledge_reads(queries):
    return [q["sql"] for q in queries.captured_queries if "commitments_pledge" in q["sql"]
            and q["sql"].lstrip().upper().startswith("SELECT")]


@pytest.fixture
def replicated(settings):
    call_command("load_demo")
    settings.READ_REPLICAS = ["replica"]


def capture():
    return CaptureQueriesContext(connections["replica"]), CaptureQueriesContext(connections["default"])


@pytest.mark.parametrize("path", ["/pledges/", "/api/v1/pledges/", "/api/v1/summaries/by-nation/"])
def test_an_anonymous_readers_reads_go_to_the_replica(client, replicated, path):
    replica, primary = capture()
    with replica, primary:
        assert client.get(path).status_code == 200
    assert pledge_reads(replica)
    assert not pledge_reads(primary)


def test_an_editors_reads_and_writes_go_to_the_primary_so_she_reads_her_own_write(client, alice, replicated):
    client.force_login(alice)
    pledge = Pledge.objects.get(external_id="demo:uk-training")
    replica, primary = capture()
    with replica, primary:
        assert client.get("/pledges/").status_code == 200
        assert client.get(f"/admin/commitments/pledge/{pledge.pk}/change/").status_code == 200
    assert pledge_reads(primary)
    assert replica.captured_queries == []


def test_without_replicas_everything_goes_to_the_primary(client, settings):
    call_command("load_demo")
    settings.READ_REPLICAS = []
    replica, primary = capture()
    with replica, primary:
        assert client.get("/pledges/").status_code == 200
    assert replica.captured_queries == [] and pledge_reads(primary)
