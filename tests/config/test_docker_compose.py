"""There is no Docker engine here: parse the compose file and check it points at real modules and settings."""

from __future__ import annotations

import importlib
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def _argv(service: str) -> list[str]:
    command = SERVICES[service]["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


APP_SERVICES = ("web", "worker", "gpu-worker", "beat")


def test_the_services_the_design_names_are_there() -> None:
    assert {"db", "redis", "minio", "bucket", "web", "worker", "gpu-worker"} <= set(SERVICES)
    assert {"pgdata", "objects", "worker-scratch", "gpu-worker-scratch"} <= set(COMPOSE["volumes"])


def test_web_migrates_first_then_serves_the_real_wsgi_application() -> None:
    command = SERVICES["web"]["command"]
    assert command.index("migrate") < command.index("gunicorn")
    target = next(arg for arg in command.replace('"', " ").split() if arg.startswith("config.wsgi"))
    module, attribute = target.split(":")
    assert hasattr(importlib.import_module(module), attribute)


@pytest.mark.parametrize(("service", "queue"), [("worker", "default"), ("gpu-worker", "gpu")])
def test_workers_run_the_real_celery_app_on_their_queue(service: str, queue: str) -> None:
    argv = _argv(service)
    app_module = argv[argv.index("-A") + 1]
    assert importlib.import_module(app_module).celery_app.main == "prefstack"
    assert argv[argv.index("-Q") + 1] == queue


def test_the_gpu_worker_reserves_nvidia_devices() -> None:
    devices = SERVICES["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]


def test_every_app_service_uses_production_settings_postgres_and_redis() -> None:
    for name in ("web", "worker", "gpu-worker"):
        env = SERVICES[name]["environment"]
        importlib.util.find_spec(env["DJANGO_SETTINGS_MODULE"])  # the module exists
        assert importlib.util.find_spec(env["DJANGO_SETTINGS_MODULE"]) is not None
        assert env["DATABASE_URL"].startswith("postgres://") and "@db:" in env["DATABASE_URL"]
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:")


def test_a_beat_sends_the_stale_job_sweep() -> None:
    from django.conf import settings

    argv = _argv("beat")
    assert importlib.import_module(argv[argv.index("-A") + 1]).celery_app.main == "prefstack"
    assert "beat" in argv and "worker" not in argv
    assert SERVICES["beat"]["environment"]["CELERY_BROKER_URL"].startswith("redis://redis:")
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["rm_jobs.training_jobs_sweep_stale"] <= 60
    assert schedule["annotator.model_runs_sweep_stale"] <= 60


def test_the_demo_worker_runs_the_embedded_beat() -> None:
    text = (ROOT / "scripts" / "demo.py").read_text()
    assert '"-B"' in text


def test_app_services_store_files_in_the_minio_bucket_and_share_no_volume() -> None:
    from config.settings.storage import s3_options

    mounted: dict[str, str] = {}
    for name in APP_SERVICES:
        service = SERVICES[name]
        env = service["environment"]
        options = s3_options(url=env["PREFSTACK_STORAGE_URL"], endpoint_url="", region="", location="", max_attempts=1,
                             part_bytes=8 * 1024 * 1024)  # fmt: skip
        assert (options["bucket_name"], options["endpoint_url"]) == ("prefstack", "http://minio:9000")
        assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PREFSTACK_STORAGE_PUBLIC_URL"} <= set(env)
        assert service["depends_on"]["bucket"]["condition"] == "service_completed_successfully"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source not in mounted, f"{name} and {mounted.get(source)} share {source}"
            mounted[source] = name
    assert set(mounted) == {"worker-scratch", "gpu-worker-scratch"}  # each worker keeps its own scratch


def test_the_bucket_is_created_once_before_the_app_starts() -> None:
    bucket = SERVICES["bucket"]
    entrypoint = bucket["entrypoint"]
    assert "mc mb --ignore-existing store/prefstack" in entrypoint
    assert "http://minio:9000" in entrypoint
    assert bucket["depends_on"]["minio"]["condition"] == "service_healthy"
    assert SERVICES["minio"]["volumes"] == ["objects:/data"]
