"""The project's settings, with what makes tests fast and nothing else: a password hasher that does not stretch."""
from tracker.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A read replica as the router sees one, mirroring the test database: tests that set READ_REPLICAS = ["replica"]
# see where each query goes (tests/test_routers.py). Nothing is routed to it otherwise.
if "replica" not in DATABASES:  # noqa: F405
    DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405
