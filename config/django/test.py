"""Test settings: fast hashing; everything else as configured by the environment (SQLite or PostgreSQL)."""

import os

from config.django.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    **STORAGES,  # noqa: F405  # the default storage as the environment chose it
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory, so that a real Celery worker process in the integration tests sees the same data.
    # One file per test session, so that concurrent runs never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test-{os.getpid()}.sqlite3")}  # noqa: F405

# Brute-force protection is off for the suite (the test client logs in without a request, which django-axes
# refuses; hundreds of API calls per test); tests/config/test_brute_force.py turns it on where it is under test.
AXES_ENABLED = False
PREFSTACK_API_THROTTLE_RATES = {"anon": None, "user": None}

# A store that is down fails a test's transfer at once (annotator.storage.retrying).
PREFSTACK_STORAGE_RETRY_SECONDS = 0
