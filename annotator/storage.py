"""The one home of Prefstack's files: which storage holds them, their keys, and the moves between a process's local
scratch and the store.

Every file Prefstack writes or reads lives in Django's ``default`` storage (``config/settings/storage.py``): the
filesystem under ``MEDIA_ROOT`` by default, or any S3-compatible store. A *key* is a storage name
(``snapshots/<project>/<number>-<token>/items.parquet``); the token (:func:`new_folder`) makes keys unguessable.

Processes work on local files, in their scratch ``MEDIA_ROOT/<key>``:

* :func:`download_to_scratch` / :func:`download_dir_to_scratch` bring a stored file or folder there (a no-op when
  the storage is the filesystem at ``MEDIA_ROOT``: the scratch copy *is* the stored file);
* :func:`upload_file` / :func:`upload_dir` store a local file or folder under a key. On the filesystem a file is
  written to a temporary name and renamed into place; on S3 an object appears only when its (multipart) upload
  completes, and callers record a key in the database only after its upload returned. Either way no reader ever
  sees half a file;
* :func:`download_response` answers a download (after the caller's role check): the file itself, streamed, from
  the filesystem; a 302 to a presigned URL that expires in ``PREFSTACK_STORAGE_URL_EXPIRY_SECONDS`` from an object
  store, so the web process never carries the bytes.

A store that cannot be reached or refuses the credentials raises :class:`StorageUnavailable` (503,
``storage_unavailable``) after botocore's own retries (``PREFSTACK_STORAGE_MAX_ATTEMPTS``).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.http import FileResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase

from annotator.error_codes import ErrorCode
from annotator.errors import ApplicationError, NotFound

logger = logging.getLogger(__name__)

SIGNING_ALIAS = "signing"
COPY_CHUNK_BYTES = 8 * 1024 * 1024
_T = TypeVar("_T")


class StorageUnavailable(ApplicationError):
    """The object store could not be reached, or refused the credentials; retrying later may help."""

    code = ErrorCode.STORAGE_UNAVAILABLE
    status = 503


def file_storage() -> Storage:
    return storages["default"]


def _local_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def _shared_path(key: str) -> Path | None:
    """The stored file's own path when the storage is a filesystem, else None."""
    storage = file_storage()
    return Path(storage.path(key)) if isinstance(storage, FileSystemStorage) else None


def is_scratch_the_store() -> bool:
    """True when the storage is the filesystem at MEDIA_ROOT: scratch files are the stored ones."""
    storage = file_storage()
    return isinstance(storage, FileSystemStorage) and Path(storage.location).resolve() == _local_root().resolve()


def scratch_path(key: str) -> Path:
    """Where this process keeps its local copy of ``key``."""
    return _local_root() / key


def key_of(path: Path) -> str:
    """The key of a file or folder in this process's scratch."""
    return path.resolve().relative_to(_local_root().resolve()).as_posix()


def new_folder(prefix: str, name: str | int) -> str:
    """A fresh, unguessable folder key: ``<prefix>/<name>-<random token>``."""
    return f"{prefix}/{name}-{secrets.token_hex(12)}"


def _store_error(error: Exception) -> StorageUnavailable:
    """The client sees why in a word (the S3 error code, e.g. InvalidAccessKeyId, or the error's class); the
    details, which name internal addresses, go to the log."""
    logger.warning("file store error: %s", error)
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    reason = str(code or type(error).__name__)
    return StorageUnavailable(
        f"The file store is unavailable ({reason}). Try again later; an operator should check the storage settings.",
        extra={"reason": reason},
    )


def _store_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError, ConnectionError, TimeoutError)


def _guarded(action: Callable[[], _T]) -> _T:
    """Run a storage call; the store's own failures (unreachable, credentials refused, 5xx after botocore's
    retries) become StorageUnavailable. A missing file stays FileNotFoundError."""
    try:
        return action()
    except FileNotFoundError:
        raise
    except _store_errors() as error:
        if _is_missing(error):
            raise FileNotFoundError(str(error)) from error
        raise _store_error(error) from error


def _is_missing(error: Exception) -> bool:
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return False
    return str(response.get("Error", {}).get("Code")) in {"404", "NoSuchKey", "NotFound"}


def exists(key: str) -> bool:
    return _guarded(lambda: file_storage().exists(key))


@contextmanager
def _partial_beside(target: Path) -> Iterator[Path]:
    """A temporary file next to ``target``, renamed onto it when the block ends without error, removed if not."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    os.close(handle)
    partial = Path(name)
    try:
        yield partial
        os.chmod(partial, 0o644)  # mkstemp makes it private to this user
        os.replace(partial, target)  # atomic: a reader sees no file or the whole file
    finally:
        partial.unlink(missing_ok=True)


def upload_file(local: Path, key: str) -> str:
    """Store the local file under ``key`` (multipart on S3 for large files); returns the key."""
    shared = _shared_path(key)
    if shared is not None:
        if shared.resolve() != local.resolve():
            with _partial_beside(shared) as partial:
                shutil.copyfile(local, partial)
        return key

    def save() -> str:
        with local.open("rb") as handle:
            return file_storage().save(key, File(handle, name=local.name))

    saved = _guarded(save)
    if saved != key:  # pragma: no cover - the S3 options overwrite; a storage that renames would break the layout
        raise StorageUnavailable(f"The file store renamed {key!r} to {saved!r}; configure it to overwrite.")
    return key


def upload_dir(local: Path, key: str, *, skip: Callable[[Path], bool] = lambda _: False) -> str:
    """Store every file under the local folder below ``key`` (same relative layout); returns the key."""
    for file in sorted(local.rglob("*")):
        if file.is_file() and not skip(file):
            upload_file(file, f"{key}/{file.relative_to(local).as_posix()}")
    return key


def download_to_scratch(key: str) -> Path:
    """The local copy of a stored file, downloaded (streamed, to a temporary name renamed into place) when this
    process has none yet. Stored files never change once written, so a local copy is never stale."""
    shared = _shared_path(key)
    if shared is not None and is_scratch_the_store():
        if not shared.is_file():
            raise NotFound(f"The file {key} is not in the store.")
        return shared
    target = scratch_path(key)
    if target.is_file():
        return target

    def fetch() -> None:
        with _partial_beside(target) as partial:
            _download(key, partial)

    try:
        _guarded(fetch)
    except FileNotFoundError as error:
        raise NotFound(f"The file {key} is not in the store.") from error
    return target


def _download(key: str, path: Path) -> None:
    """Copy a stored file to a local path: from S3 with boto3's managed transfer (ranged GETs in parallel, parts of
    ``PREFSTACK_STORAGE_PART_BYTES``, straight to the file), from other storages by streaming ``open``."""
    storage = file_storage()
    bucket = getattr(storage, "bucket", None)
    if bucket is None:
        with storage.open(key, "rb") as source, path.open("wb") as out:
            shutil.copyfileobj(source, out, COPY_CHUNK_BYTES)
        return
    from storages.utils import clean_name

    name = storage._normalize_name(clean_name(key))  # type: ignore[attr-defined]  # the storage's prefix (location)
    bucket.download_file(name, str(path), Config=storage.transfer_config)  # type: ignore[attr-defined]


def retrying(action: Callable[[], _T], *, what: str) -> _T:
    """Run a worker's transfer, retried on StorageUnavailable ``PREFSTACK_STORAGE_TRANSFER_ATTEMPTS`` times in all,
    waiting ``PREFSTACK_STORAGE_RETRY_SECONDS`` doubled after each failure: a store that is down for a minute must
    not cost a finished build or a trained model. Requests do not retry beyond botocore's own attempts (they answer
    503 at once)."""
    attempts = max(1, settings.PREFSTACK_STORAGE_TRANSFER_ATTEMPTS)
    wait = float(settings.PREFSTACK_STORAGE_RETRY_SECONDS)
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except StorageUnavailable:
            if attempt == attempts:
                raise
            logger.warning("%s: the file store is unavailable (attempt %s of %s); retrying", what, attempt, attempts)
            time.sleep(wait)
            wait *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def _walk(key: str) -> Iterator[str]:
    folders, files = file_storage().listdir(key)
    for name in files:
        yield f"{key}/{name}"
    for folder in folders:
        yield from _walk(f"{key}/{folder}")


def download_dir_to_scratch(key: str) -> Path:
    """The local copy of a stored folder (a model directory), each file downloaded as by
    :func:`download_to_scratch`."""
    if is_scratch_the_store():
        return scratch_path(key)
    keys = _guarded(lambda: list(_walk(key)))
    if not keys:
        raise NotFound(f"The folder {key} is not in the store.")
    for file_key in keys:
        download_to_scratch(file_key)
    return scratch_path(key)


def read_text(key: str) -> str:
    """A small stored text file (a dataset card), read without a local copy."""

    def read() -> str:
        with file_storage().open(key, "rb") as handle:
            data: bytes = handle.read()
        return data.decode("utf-8")

    try:
        return _guarded(read)
    except FileNotFoundError as error:
        raise NotFound(f"The file {key} is not in the store.") from error


def delete_tree(key: str) -> None:
    """Remove a stored folder and everything below it (a failed build's partial files)."""
    shared = _shared_path(key)
    if shared is not None:
        shutil.rmtree(shared, ignore_errors=True)
        return
    for file_key in _guarded(lambda: list(_walk(key))):
        _guarded(lambda k=file_key: file_storage().delete(k))  # type: ignore[misc]


def download_response(key: str, *, filename: str, content_type: str) -> HttpResponseBase:
    """Answer a download of the stored file ``key``; call it after the role check.

    Filesystem: the file, streamed by Django (``FileResponse``). Object store: 302 to a presigned GET that expires
    in ``PREFSTACK_STORAGE_URL_EXPIRY_SECONDS`` and names the file and its type for the browser.
    """
    shared = _shared_path(key)
    if shared is not None:
        if not shared.is_file():
            raise NotFound(f"The file {key} is not in the store.")
        return FileResponse(shared.open("rb"), as_attachment=True, filename=filename, content_type=content_type)
    signer = storages[SIGNING_ALIAS] if SIGNING_ALIAS in settings.STORAGES else file_storage()
    parameters = {
        "ResponseContentDisposition": f'attachment; filename="{filename}"',
        "ResponseContentType": content_type,
    }
    url = _guarded(
        lambda: signer.url(key, parameters=parameters, expire=settings.PREFSTACK_STORAGE_URL_EXPIRY_SECONDS)  # type: ignore[call-arg]
    )
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "private, no-store"  # the URL is a short-lived credential
    return response
