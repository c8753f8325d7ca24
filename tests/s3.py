"""A real S3 API on 127.0.0.1 for tests: moto's standalone server (``moto[server]``), which speaks the S3 HTTP
protocol, so django-storages and boto3 run exactly as against AWS S3 or MinIO.

``s3_server`` (session): the server's endpoint URL. ``s3_env``: the environment that makes a process (this one
through the settings, a worker through its environment) use a fresh bucket on it; ``use_s3`` switches this process's
default storage to that bucket.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    saved = {name: os.environ.get(name) for name in CREDENTIALS}
    os.environ.update(CREDENTIALS)  # boto3 in this process reads them; workers inherit them
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def s3_bucket(s3_server: str) -> str:
    """A fresh, empty bucket on the server."""
    name = f"prefstack-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_env(s3_server: str, s3_bucket: str) -> dict[str, str]:
    """The environment of a process that stores its files in ``s3_bucket``."""
    return {**CREDENTIALS, "PREFSTACK_STORAGE_URL": f"s3://{s3_bucket}?endpoint_url={s3_server}"}


def s3_storage_settings(*, bucket: str, endpoint_url: str, max_attempts: int = 4) -> dict[str, Any]:
    from config.settings.storage import s3_options

    options = s3_options(
        url=f"s3://{bucket}?endpoint_url={endpoint_url}",
        endpoint_url="",
        region="",
        location="",
        max_attempts=max_attempts,
        part_bytes=5 * 1024 * 1024,  # S3's smallest part: the multipart path runs on small files
    )
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


@pytest.fixture
def use_s3(settings: Any, s3_server: str, s3_bucket: str) -> str:
    """This process stores its files in a fresh bucket; returns the bucket's name."""
    settings.STORAGES = {**settings.STORAGES, "default": s3_storage_settings(bucket=s3_bucket, endpoint_url=s3_server)}
    return s3_bucket
