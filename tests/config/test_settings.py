"""Production settings refuse unsafe configurations; the defaults are the embedded ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "x" * 50


def _load_production(**env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    full.update({"DJANGO_SETTINGS_MODULE": "config.django.production", **env})
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full, capture_output=True, text=True)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_DEBUG": "true", "DJANGO_SECRET_KEY": GOOD_KEY}, "DJANGO_DEBUG"),
        ({"DJANGO_DEBUG": "false"}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": "short"}, "DJANGO_SECRET_KEY"),
    ],
)
def test_production_refuses_to_start_unsafely(env: dict[str, str], message: str) -> None:
    result = _load_production(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_production_starts_with_a_real_key_and_debug_off() -> None:
    result = _load_production(DJANGO_DEBUG="false", DJANGO_SECRET_KEY=GOOD_KEY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_a_django_process_runs_arrow_on_jemalloc() -> None:
    """Exports stay flat in memory only with jemalloc (see config.django.base and annotator.apps)."""
    pa = pytest.importorskip("pyarrow")
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:  # pragma: no cover - wheels without jemalloc (not Linux)
        pytest.skip("this pyarrow has no jemalloc")
    full = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    full["DJANGO_SETTINGS_MODULE"] = "config.django.base"
    code = "import django; django.setup(); import pyarrow as pa; print(pa.default_memory_pool().backend_name)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "jemalloc"


def _run_production(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    full.update({"DJANGO_SETTINGS_MODULE": "config.django.production", "DJANGO_DEBUG": "false"})
    full["DJANGO_SECRET_KEY"] = "k9-" + "a1b2c3d4e5" * 6
    full.update(env)
    return subprocess.run([sys.executable, *code.split()], cwd=ROOT, env=full, capture_output=True, text=True)


def test_check_deploy_is_clean_under_production_settings() -> None:
    result = _run_production("manage.py check --deploy --fail-level WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_https_settings_come_from_the_environment() -> None:
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER)"
    )
    full = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    full.update({"DJANGO_SETTINGS_MODULE": "config.django.production", "DJANGO_DEBUG": "false"})
    full["DJANGO_SECRET_KEY"] = "k9-" + "a1b2c3d4e5" * 6
    run = lambda **env: subprocess.run(  # noqa: E731
        [sys.executable, "-c", code], cwd=ROOT, env={**full, **env}, capture_output=True, text=True
    )
    assert run().stdout.split() == ["True", "31536000", "None"]
    custom = run(
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_SECURE_HSTS_SECONDS="0",
        DJANGO_SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
    )
    assert custom.stdout.strip() == "False 0 ('HTTP_X_FORWARDED_PROTO', 'https')", custom.stderr
    bad = run(DJANGO_SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO")
    assert bad.returncode != 0 and "DJANGO_SECURE_PROXY_SSL_HEADER" in bad.stderr


def test_pooled_database_connections_are_health_checked() -> None:
    from django.conf import settings

    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True
    code = (
        "import django; django.setup(); from django.conf import settings as s; d = s.DATABASES['default']; "
        "print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.django.base",
           "DATABASE_URL": "postgres://u@127.0.0.1:5432/x", "DATABASE_CONN_MAX_AGE": "300"}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "300 True", done.stderr
