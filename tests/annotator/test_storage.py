"""annotator.storage on the filesystem (the default) and on a real S3 API (moto's server on 127.0.0.1)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from urllib.request import urlopen

import boto3
import pytest
from django.conf import settings
from django.http import FileResponse

from annotator import storage
from annotator.errors import NotFound

pytest_plugins = ["tests.s3"]  # s3_server, s3_bucket, use_s3


@pytest.fixture(params=["filesystem", "s3"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "s3":
        request.getfixturevalue("use_s3")
    return str(request.param)


def _local(name: str, data: bytes, tmp_path: Path) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_new_folders_are_unguessable_and_fresh() -> None:
    first, second = storage.new_folder("snapshots/demo", 3), storage.new_folder("snapshots/demo", 3)
    assert re.fullmatch(r"snapshots/demo/3-[0-9a-f]{24}", first)
    assert first != second


def test_the_default_storage_is_the_filesystem_at_media_root() -> None:
    assert storage.is_scratch_the_store()
    assert storage.scratch_path("a/b.txt") == Path(settings.MEDIA_ROOT) / "a" / "b.txt"


def test_a_file_goes_up_and_comes_back_whole(backend: str, tmp_path: Path) -> None:
    data = bytes(range(256)) * 4096
    key = storage.upload_file(_local("w.bin", data, tmp_path), "runs/job-1-abc/w.bin")
    assert storage.exists(key)
    if backend == "s3":
        storage.scratch_path(key).unlink(missing_ok=True)  # this process never had a local copy
    assert storage.download_to_scratch(key).read_bytes() == data
    assert not list(storage.scratch_path(key).parent.glob("*.partial"))


def test_a_large_file_is_uploaded_in_parts(use_s3: str, s3_server: str, tmp_path: Path) -> None:
    data = b"x" * (11 * 1024 * 1024)  # three parts of 5 MiB (the fixture's part size)
    storage.upload_file(_local("big.bin", data, tmp_path), "big/one.bin")
    head = boto3.client("s3", endpoint_url=s3_server).head_object(Bucket=use_s3, Key="big/one.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-3")  # the ETag of a multipart object counts its parts
    storage.scratch_path("big/one.bin").unlink(missing_ok=True)
    assert storage.download_to_scratch("big/one.bin").read_bytes() == data  # boto3's ranged, managed download


def test_a_folder_goes_up_and_comes_back(backend: str, tmp_path: Path) -> None:
    model = tmp_path / "final"
    (model / "sub").mkdir(parents=True)
    (model / "config.json").write_text("{}")
    (model / "sub" / "weights.bin").write_bytes(b"\0" * 10)
    (model / "trainer_state.pt").write_bytes(b"state")
    key = storage.upload_dir(model, "runs/job-2-abc/final", skip=lambda file: file.name == "trainer_state.pt")
    local = storage.download_dir_to_scratch(key)
    assert (local / "config.json").read_text() == "{}"
    assert (local / "sub" / "weights.bin").read_bytes() == b"\0" * 10
    if backend == "s3":
        assert not storage.exists(f"{key}/trainer_state.pt")


def test_a_missing_file_is_not_found(backend: str) -> None:
    with pytest.raises(NotFound):
        storage.download_to_scratch("nothing/here.bin")
    with pytest.raises(NotFound):
        storage.read_text("nothing/here.md")


def test_delete_tree_removes_a_folder(backend: str, tmp_path: Path) -> None:
    storage.upload_file(_local("a.txt", b"a", tmp_path), "snapshots/p/1-x/a.txt")
    storage.upload_file(_local("b.txt", b"b", tmp_path), "snapshots/p/1-x/exports/b.txt")
    storage.delete_tree("snapshots/p/1-x")
    assert not storage.exists("snapshots/p/1-x/a.txt")
    assert not storage.exists("snapshots/p/1-x/exports/b.txt")


def test_filesystem_downloads_are_streamed(tmp_path: Path) -> None:
    key = storage.upload_file(_local("r.json", b"{}", tmp_path), "r/r.json")
    response = storage.download_response(key, filename="r.json", content_type="application/json")
    assert isinstance(response, FileResponse)
    assert response["Content-Disposition"] == 'attachment; filename="r.json"'
    assert b"".join(response.streaming_content) == b"{}"  # type: ignore[arg-type]


def test_object_store_downloads_redirect_to_a_short_lived_presigned_url(
    use_s3: str, settings: Any, tmp_path: Path
) -> None:
    settings.PREFSTACK_STORAGE_URL_EXPIRY_SECONDS = 120
    key = storage.upload_file(_local("m.zip", b"zipped", tmp_path), "runs/job-3-abc/m.zip")
    response = storage.download_response(key, filename="model.zip", content_type="application/zip")
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["X-Amz-Expires"] == ["120"]
    with urlopen(response["Location"], timeout=10) as fetched:  # no credentials but the URL's own signature
        assert fetched.read() == b"zipped"
        assert fetched.headers["Content-Disposition"] == 'attachment; filename="model.zip"'
        assert fetched.headers["Content-Type"] == "application/zip"


def test_a_public_endpoint_signs_the_download_urls(use_s3: str, settings: Any) -> None:
    from tests.s3 import s3_storage_settings  # the plugin module (imported first by pytest_plugins)

    public = s3_storage_settings(bucket=use_s3, endpoint_url="https://files.example.org")
    settings.STORAGES = {**settings.STORAGES, storage.SIGNING_ALIAS: public}
    response = storage.download_response("any/key.zip", filename="k.zip", content_type="application/zip")
    assert response["Location"].startswith(f"https://files.example.org/{use_s3}/any/key.zip?")


def test_an_unreachable_store_is_a_clear_503(settings: Any, s3_bucket: str) -> None:
    from tests.s3 import s3_storage_settings

    dead = s3_storage_settings(bucket=s3_bucket, endpoint_url="http://127.0.0.1:9", max_attempts=1)
    settings.STORAGES = {**settings.STORAGES, "default": dead}
    with pytest.raises(storage.StorageUnavailable) as caught:
        storage.exists("a/b")
    assert caught.value.status == 503
    assert caught.value.code == "storage_unavailable"
    assert caught.value.message.startswith("The file store is unavailable (EndpointConnectionError).")
    assert "127.0.0.1" not in caught.value.message  # internal addresses stay in the log


def test_refused_credentials_are_a_clear_503(use_s3: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # moto accepts any key; an S3 server refusing one answers 403 InvalidAccessKeyId, as botocore reports here.
    from botocore.exceptions import ClientError

    refused = ClientError({"Error": {"Code": "InvalidAccessKeyId", "Message": "no such key"}}, "PutObject")
    monkeypatch.setattr(type(storage.file_storage()), "_save", lambda *args: (_ for _ in ()).throw(refused))
    with pytest.raises(storage.StorageUnavailable) as caught:
        storage.upload_file(_local("x.bin", b"x", tmp_path), "x/x.bin")
    assert caught.value.extra == {"reason": "InvalidAccessKeyId"}
    assert caught.value.message.startswith("The file store is unavailable (InvalidAccessKeyId).")


def test_a_workers_transfer_is_retried_while_the_store_is_down(settings: Any) -> None:
    settings.PREFSTACK_STORAGE_TRANSFER_ATTEMPTS, settings.PREFSTACK_STORAGE_RETRY_SECONDS = 3, 0
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise storage.StorageUnavailable("down")
        return "stored"

    assert storage.retrying(flaky, what="test") == "stored"
    assert len(calls) == 3
    calls.clear()
    settings.PREFSTACK_STORAGE_TRANSFER_ATTEMPTS = 2
    with pytest.raises(storage.StorageUnavailable):
        storage.retrying(flaky, what="test")
    assert len(calls) == 2
