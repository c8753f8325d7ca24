"""Where Prefstack keeps its files: Django's ``default`` storage holds every file it writes or reads (snapshots,
exports and bundles, uploaded benchmark files, checkpoints, evaluation results); ``annotator/storage.py`` owns the
key layout and the transfers.

* Nothing set: the filesystem under ``PREFSTACK_MEDIA_ROOT`` (one host; the working copy *is* the stored file).
* ``PREFSTACK_STORAGE_URL=s3://<bucket>[/<prefix>]?endpoint_url=http://minio:9000&region=us-east-1`` or the usual
  ``AWS_STORAGE_BUCKET_NAME`` (+ ``AWS_S3_ENDPOINT_URL``, ``AWS_S3_REGION_NAME``, ``AWS_LOCATION``): any
  S3-compatible store (AWS S3, MinIO, Ceph, R2) through django-storages + boto3. Credentials come the usual boto3
  way (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, an instance role, ...). ``PREFSTACK_MEDIA_ROOT`` is then
  each process's own local scratch (a worker downloads a snapshot there, trains there, and uploads the checkpoint).
* ``PREFSTACK_STORAGE_URL=file:///path``: the filesystem at another place than the scratch.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.core.exceptions import ImproperlyConfigured

from config.env import env_int, env_str

# Downloads from an S3 store are answered with a redirect to a presigned URL valid this many seconds.
PREFSTACK_STORAGE_URL_EXPIRY_SECONDS = env_int("PREFSTACK_STORAGE_URL_EXPIRY_SECONDS", 300)
# Transient store errors (connection refused or reset, throttling, 5xx) are retried by botocore this many times.
PREFSTACK_STORAGE_MAX_ATTEMPTS = env_int("PREFSTACK_STORAGE_MAX_ATTEMPTS", 4)
# A worker's uploads (a built snapshot, a trained model) are tried this many times in all, waiting
# PREFSTACK_STORAGE_RETRY_SECONDS (doubled each time) in between, before the build or the job fails.
PREFSTACK_STORAGE_TRANSFER_ATTEMPTS = env_int("PREFSTACK_STORAGE_TRANSFER_ATTEMPTS", 4)
PREFSTACK_STORAGE_RETRY_SECONDS = env_int("PREFSTACK_STORAGE_RETRY_SECONDS", 5)
# Uploads and downloads over this many bytes go in parts (multipart upload, ranged GETs) of this size.
PREFSTACK_STORAGE_PART_BYTES = env_int("PREFSTACK_STORAGE_PART_BYTES", 64 * 1024 * 1024)


def s3_options(
    *, url: str, endpoint_url: str, region: str, location: str, max_attempts: int, part_bytes: int
) -> dict[str, Any]:
    """django-storages ``S3Storage`` options for ``s3://bucket[/prefix]?endpoint_url=...&region=...`` (the URL's
    query wins over the separate ``AWS_*`` values); ``url`` may be the bare bucket name."""
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    parts = urlsplit(url if "://" in url else f"s3://{url}")
    if parts.scheme != "s3" or not parts.netloc:
        raise ImproperlyConfigured(
            f"PREFSTACK_STORAGE_URL must be s3://<bucket>[/<prefix>] or file:///path, not {url!r}."
        )
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    return {
        "bucket_name": parts.netloc,
        "location": parts.path.strip("/") or location,
        "endpoint_url": query.get("endpoint_url", endpoint_url) or None,
        "region_name": query.get("region", region) or None,
        "file_overwrite": True,  # keys are unique (annotator/storage.py); a retried upload replaces its own object
        "default_acl": None,
        "querystring_auth": True,
        "client_config": Config(
            retries={"max_attempts": max_attempts, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            s3={"addressing_style": query.get("addressing_style", "path")},
            signature_version="s3v4",
        ),
        "transfer_config": TransferConfig(multipart_threshold=part_bytes, multipart_chunksize=part_bytes),
    }


def storage_backends() -> dict[str, dict[str, Any]]:
    """The ``default`` alias (and ``signing``, when downloads are signed for another endpoint) for the
    environment."""
    url = env_str("PREFSTACK_STORAGE_URL", "")
    bucket = env_str("AWS_STORAGE_BUCKET_NAME", "")
    if url.startswith("file://"):
        return {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                            "OPTIONS": {"location": urlsplit(url).path}}}  # fmt: skip
    if not url and not bucket:
        return {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}  # MEDIA_ROOT, followed live
    options = s3_options(
        url=url or bucket,
        endpoint_url=env_str("AWS_S3_ENDPOINT_URL", ""),
        region=env_str("AWS_S3_REGION_NAME", ""),
        location=env_str("AWS_LOCATION", ""),
        max_attempts=PREFSTACK_STORAGE_MAX_ATTEMPTS,
        part_bytes=PREFSTACK_STORAGE_PART_BYTES,
    )
    backends = {"default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}}
    # The workers reach the store at endpoint_url (http://minio:9000); browsers may need another address for the
    # presigned download URLs. Signing needs no connection, so a second storage signs for that address.
    public = env_str("PREFSTACK_STORAGE_PUBLIC_URL", "")
    if public:
        backends["signing"] = {"BACKEND": "storages.backends.s3.S3Storage",
                               "OPTIONS": {**options, "endpoint_url": public}}  # fmt: skip
    return backends
