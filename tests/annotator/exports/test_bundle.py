from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from annotator.exports import (
    EXPORT_FORMATS,
    MANIFEST_NAME,
    SnapshotItem,
    license_notice,
    render_dataset_card,
    write_bundle,
)


def _card() -> str:
    return render_dataset_card(
        title="Demo",
        summary="s",
        collection="c",
        attributes=[],
        aggregation_rule="rounded mean",
        aggregation_parameters={},
        agreement=[],
        counts={"train": 1, "validation": 1},
        attribution="Example Lab",
        limitations=[],
    )


@pytest.fixture
def bundle_dir(items: list[SnapshotItem], tmp_path: Path) -> Path:
    bundle = write_bundle(
        items, tmp_path / "snap.zip", card=_card(), license_text=license_notice("Example Lab"), row_group_size=1
    )
    assert bundle.path.exists()
    assert not any(p.name.startswith(".bundle-") for p in tmp_path.iterdir())  # staging folder removed
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(bundle.path) as archive:
        archive.extractall(folder)
    return folder


def test_the_bundle_holds_every_format_card_licence_and_manifest(bundle_dir: Path) -> None:
    names = {p.relative_to(bundle_dir).as_posix() for p in bundle_dir.rglob("*") if p.is_file()}
    expected = {"README.md", "LICENSE", MANIFEST_NAME}
    for fmt in EXPORT_FORMATS:
        for split in ("train", "validation"):
            expected |= {f"{fmt}/{split}.parquet", f"{fmt}/{split}.jsonl.gz"}
    assert names == expected
    assert (bundle_dir / "LICENSE").read_text(encoding="utf-8").startswith("Copyright (c) Example Lab")


def test_the_manifest_has_the_sha256_of_every_other_file(bundle_dir: Path) -> None:
    lines = (bundle_dir / MANIFEST_NAME).read_text(encoding="utf-8").splitlines()
    listed = {}
    for line in lines:
        digest, name = line.split("  ", 1)
        listed[name] = digest
    files = [p for p in bundle_dir.rglob("*") if p.is_file() and p.name != MANIFEST_NAME]
    assert set(listed) == {p.relative_to(bundle_dir).as_posix() for p in files}
    for path in files:
        assert listed[path.relative_to(bundle_dir).as_posix()] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_same_items_give_the_same_zip(items: list[SnapshotItem], tmp_path: Path) -> None:
    first = write_bundle(items, tmp_path / "a.zip", card="card", license_text="licence")
    second = write_bundle(items, tmp_path / "b.zip", card="card", license_text="licence")
    assert first.sha256 == second.sha256


def test_the_unzipped_bundle_loads_with_datasets_by_config(bundle_dir: Path, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    cache = str(tmp_path / "cache")
    preference = datasets.load_dataset(str(bundle_dir), "helpsteer2-preference", cache_dir=cache)
    assert preference.num_rows == {"train": 1, "validation": 1}
    assert preference["validation"][0]["split"] == "val"
    ratings = datasets.load_dataset(str(bundle_dir), "helpsteer2", cache_dir=cache)
    assert ratings.num_rows == {"train": 2, "validation": 2}
    trl = datasets.load_dataset(str(bundle_dir), "trl-preference", split="train", cache_dir=cache)
    assert trl.column_names == ["id", "split", "prompt", "chosen", "rejected", "margin", "domain", "language"]


def test_simultaneous_writes_of_one_bundle_never_share_a_partial_file(
    items: list[SnapshotItem], tmp_path: Path
) -> None:
    """Several first downloads build the same bundle at once: each finishes, and the file is whole and the same."""
    import threading

    target, runs = tmp_path / "bundle.zip", 6
    barrier = threading.Barrier(runs)
    digests: list[str] = []
    errors: list[BaseException] = []

    def build() -> None:
        barrier.wait()
        try:
            digests.append(write_bundle(items, target, card="card", license_text="licence").sha256)
        except BaseException as error:  # collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=build) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(digests)) == 1 and len(digests) == runs
    with zipfile.ZipFile(target) as archive:
        assert archive.testzip() is None
    assert [p.name for p in tmp_path.iterdir()] == ["bundle.zip"]
