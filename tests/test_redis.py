"""With REDIS_URL set, summaries and API throttling live in the real Redis (127.0.0.1:6379 on these machines):
shared by every worker and server, and failing open when Redis is down."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tracker.settings import redis_cache

pytestmark = pytest.mark.django_db
# A Redis database per test database: CI runs the SQLite and PostgreSQL suites at once, and each empties its own.
REDIS = os.environ.get("REDIS_TEST_URL") or f"redis://127.0.0.1:6379/{14 if connection.vendor == 'postgresql' else 15}"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def api():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def on_redis(settings):
    """The caches as REDIS_URL sets them, in a Redis database of the tests' own, emptied before and after."""
    import redis

    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=0.5).ping()
    except redis.ConnectionError:
        pytest.skip(f"!!! NO REDIS AT {REDIS}: the Redis tests are SKIPPED !!!")
    settings.CACHES = {**settings.CACHES, "default": redis_cache(REDIS, "tracker"),
                       "throttle": redis_cache(REDIS, "tracker-throttle")}
    redis.Redis.from_url(REDIS).flushdb()
    yield redis.Redis.from_url(REDIS)
    redis.Redis.from_url(REDIS).flushdb()


def test_a_summary_built_by_one_worker_is_served_to_another_from_redis(api, demo, on_redis):
    first = api.get("/api/v1/summaries/by-nation/")
    assert first.status_code == 200
    assert any(key.startswith(b"tracker:") for key in on_redis.keys())
    caches["local"].clear()  # another worker: nothing in its own memory
    with CaptureQueriesContext(connection) as queries:
        second = api.get("/api/v1/summaries/by-nation/")
    assert second.json() == first.json()
    assert not [q for q in queries.captured_queries if "commitments_pledgeperiod" in q["sql"]]  # not built again


def test_the_anonymous_rate_limit_holds_across_worker_processes(on_redis, settings):
    """Two requests here and two in another process, at a limit of 3 a minute: the fourth is refused."""
    script = (
        "import django; django.setup()\n"
        "from rest_framework.test import APIRequestFactory\n"
        "from rest_framework.request import Request\n"
        "from tracker.api.permissions import AnonThrottle\n"
        "throttle = AnonThrottle(); throttle.rate = '3/minute'; throttle.num_requests, throttle.duration = 3, 60\n"
        "request = Request(APIRequestFactory().get('/api/v1/pledges/', REMOTE_ADDR='203.0.113.7'))\n"
        "print(throttle.allow_request(request, None), throttle.allow_request(request, None))\n")

    def worker():
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tracker.settings", "REDIS_URL": REDIS, "DEBUG": "1"}
        return subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                              check=True).stdout.split()

    assert worker() == ["True", "True"]
    assert worker() == ["True", "False"]


def test_with_redis_down_pages_and_reads_still_answer(client, api, demo, settings):
    settings.CACHES = {**settings.CACHES, "default": redis_cache("redis://127.0.0.1:1/0", "tracker"),
                       "throttle": redis_cache("redis://127.0.0.1:1/0", "tracker-throttle")}
    caches["local"].clear()
    assert client.get("/").status_code == 200
    assert api.get("/api/v1/summaries/by-nation/").status_code == 200
    assert api.get("/api/v1/pledges/").status_code == 200
