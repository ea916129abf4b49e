"""The project's settings, with what makes tests fast and nothing else: a password hasher that does not stretch."""
from tracker.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A read replica as the router sees one, mirroring the test database: tests that set READ_REPLICAS = ["replica"]
# see where each query goes (tests/test_routers.py). Nothing is routed to it otherwise.
if "replica" not in DATABASES:  # noqa: F405
    DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405

# PostgreSQL: commits need not wait for the disk, as nothing a test writes must survive a crash (the test database's
# flushes between transactional tests otherwise wait for it each time).
if DATABASES["default"]["ENGINE"].endswith("postgresql"):  # noqa: F405
    for _alias in ("default", "replica"):
        DATABASES[_alias].setdefault("OPTIONS", {})["options"] = "-c synchronous_commit=off"  # noqa: F405
