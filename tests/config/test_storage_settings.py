"""config/settings/storage.py: the default storage the environment chooses."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings.storage import storage_backends

VARIABLES = ("PREFSTACK_STORAGE_URL", "PREFSTACK_STORAGE_PUBLIC_URL", "AWS_STORAGE_BUCKET_NAME",
             "AWS_S3_ENDPOINT_URL", "AWS_S3_REGION_NAME", "AWS_LOCATION")  # fmt: skip


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_nothing_set_is_the_filesystem_at_media_root() -> None:
    assert storage_backends() == {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}


def test_a_file_url_is_the_filesystem_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFSTACK_STORAGE_URL", "file:///srv/prefstack")
    assert storage_backends()["default"]["OPTIONS"] == {"location": "/srv/prefstack"}


def test_an_s3_url_names_bucket_prefix_endpoint_and_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFSTACK_STORAGE_URL", "s3://data/prefstack?endpoint_url=http://minio:9000&region=eu-west-1")
    backends = storage_backends()
    assert backends["default"]["BACKEND"] == "storages.backends.s3.S3Storage"
    options = backends["default"]["OPTIONS"]
    assert (options["bucket_name"], options["location"]) == ("data", "prefstack")
    assert (options["endpoint_url"], options["region_name"]) == ("http://minio:9000", "eu-west-1")
    assert options["client_config"].retries == {"max_attempts": 4, "mode": "standard"}
    assert options["transfer_config"].multipart_chunksize == 64 * 1024 * 1024
    assert "signing" not in backends


def test_the_usual_aws_variables_work_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_STORAGE_BUCKET_NAME", "models")
    monkeypatch.setenv("AWS_S3_REGION_NAME", "us-west-2")
    monkeypatch.setenv("AWS_LOCATION", "team-a")
    options = storage_backends()["default"]["OPTIONS"]
    assert (options["bucket_name"], options["region_name"], options["location"]) == ("models", "us-west-2", "team-a")
    assert options["endpoint_url"] is None  # AWS itself


def test_a_public_url_adds_a_signing_storage_for_browsers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFSTACK_STORAGE_URL", "s3://data?endpoint_url=http://minio:9000")
    monkeypatch.setenv("PREFSTACK_STORAGE_PUBLIC_URL", "https://files.example.org")
    backends = storage_backends()
    assert backends["signing"]["OPTIONS"]["endpoint_url"] == "https://files.example.org"
    assert backends["default"]["OPTIONS"]["endpoint_url"] == "http://minio:9000"


def test_a_url_of_another_scheme_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFSTACK_STORAGE_URL", "gs://bucket")
    with pytest.raises(ImproperlyConfigured, match="s3://<bucket>"):
        storage_backends()
