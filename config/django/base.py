"""Settings shared by every configuration. The embedded default: SQLite and the filesystem Celery broker."""

from __future__ import annotations

import os

import dj_database_url

from config.env import BASE_DIR, env_bool, env_int, env_str
from config.settings.storage import storage_backends

# Arrow's default allocator (mimalloc) keeps the pages of every batch it ever held: writing every Parquet export of a
# 100,000-comparison snapshot left the process 80 MB bigger than for 10,000, although Arrow never held more than
# 50 MB at once. jemalloc gives them back (flat; benchmarks/export_snapshot.py). Read when Arrow first allocates, so
# it is set here, before anything imports pyarrow; an explicit setting wins.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")

DEFAULT_SECRET_KEY = "prefstack-insecure-development-key"  # noqa: S105 - production refuses it
SECRET_KEY = env_str("DJANGO_SECRET_KEY", DEFAULT_SECRET_KEY)
DEBUG = env_bool("DJANGO_DEBUG", True)
ALLOWED_HOSTS = [h for h in env_str("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env_str("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_celery_results",
    "axes",
    "annotator",
    "rm_jobs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    # Inside GZip (which then compresses the JSON), outside everything that can answer an /api/ request in HTML.
    "annotator.api.middleware.ApiJsonErrorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "annotator.middleware.ApplicationErrorMiddleware",
    # Last, as django-axes asks: it turns a login refused for too many failures into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'prefstack.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        # A persistent connection the server dropped (restart, failover, idle timeout) is tested before a request
        # reuses it and replaced, instead of failing that request with a 500.
        conn_health_checks=True,
    )
}
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DATABASE_PREPARED_STATEMENTS:
    # Server-side parameters let psycopg prepare a statement from its second use on, so PostgreSQL stops planning the
    # same query again and again (planning is most of its work on the annotate API: about 2 ms of a claim and submit).
    # Opt-in until the whole test suite has run with it; not behind a transaction-pooling pgbouncer.
    DATABASES["default"]["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 2}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; IMMEDIATE serialises writers up front instead of
    # failing half-way with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
(BASE_DIR / "var" / "staticfiles").mkdir(parents=True, exist_ok=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# django-axes first: it counts failed logins (the login page, /admin/, anything that calls authenticate()) and
# refuses a locked-out user or address before the password is checked (config/settings/security.py).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
# Mail (the set-password links a lead's new members get): printed to the console unless a backend is configured;
# production sets an SMTP backend through these variables. Tests use Django's locmem backend (mail.outbox).
EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 25)
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "prefstack@localhost")
# A set-password link works once and expires after this many seconds (Django's default is three days).
PASSWORD_RESET_TIMEOUT = env_int("DJANGO_PASSWORD_RESET_TIMEOUT", 3 * 24 * 3600)
LOGIN_REDIRECT_URL = "annotator:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Local files: with the filesystem storage the stored files themselves; with an object store each process's own
# scratch (config/settings/storage.py).
MEDIA_ROOT = env_str("PREFSTACK_MEDIA_ROOT", str(BASE_DIR / "var" / "media"))
STORAGES = {
    **storage_backends(),
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_URL = "/media/"

from config.settings.celery import *  # noqa: E402,F403
from config.settings.csp import *  # noqa: E402,F403
from config.settings.prefstack import *  # noqa: E402,F403
from config.settings.rest import *  # noqa: E402,F403
from config.settings.security import *  # noqa: E402,F403
from config.settings.storage import *  # noqa: E402,F403
