"""The project's settings, with what makes tests fast and nothing else: a password hasher that does not stretch."""
from tracker.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
