"""Re-take the README's screenshots (docs/img/*.png) from a running demo, in headless Chromium.

Start the demo first (``make demo``: web server and worker, demo data loaded), then::

    .venv/bin/python scripts/screenshots.py                  # http://127.0.0.1:8000, writes docs/img/
    .venv/bin/python scripts/screenshots.py --url http://127.0.0.1:8010 --out /tmp/img

It logs in as the three demo users and writes:

* ``annotate.png`` (1400×900): the annotator's page with a claimed comparison (it claims one, as a person would);
* ``lead-overview.png`` (1300×900): the lead's overview once both charts are drawn;
* ``training-job.png`` (1300×900): the newest succeeded training job's page. Where the demo has none (or with
  ``--new-job``), it cuts a snapshot and launches a short Scaled-BT job first (5 epochs of the demo's annotated
  pairs, about 20 steps), and waits for the demo's worker to finish it (minutes on a CPU).

The PNGs are re-compressed at zlib level 9 (pixels unchanged). Chromium is Debian's (``CHROMIUM_PATH`` or
``chromium`` on the PATH), as for the browser tests.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import struct
import sys
import zlib
from pathlib import Path

from playwright.sync_api import Browser, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
DEMO_PASSWORD = "prefstack-demo"  # noqa: S105 - annotator/management/commands/load_demo.py
SLUG = "demo"
ANNOTATE_VIEWPORT = {"width": 1400, "height": 900}
PAGE_VIEWPORT = {"width": 1300, "height": 900}
JOB_WAIT_MS = 15 * 60 * 1000


def _log_in(browser: Browser, url: str, username: str, next_path: str, viewport: dict[str, int]) -> Page:
    page = browser.new_context(viewport=viewport).new_page()
    page.goto(f"{url}/accounts/login/?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}{next_path}")  # the whole address: the login page's own ?next= ends the same way
    return page


def _save(page: Page, path: Path) -> None:
    page.wait_for_load_state("networkidle")
    page.mouse.move(0, 0)  # no hover effect in the picture
    path.write_bytes(recompress_png(page.screenshot()))
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} ({path.stat().st_size:,} bytes)")


def annotate(browser: Browser, url: str, out: Path) -> None:
    page = _log_in(browser, url, "annotator", f"/p/{SLUG}/annotate/", ANNOTATE_VIEWPORT)
    claim = page.get_by_test_id("claim")
    if claim.count():
        claim.click()
    expect(page.locator("#annotate-form")).to_be_visible()
    _save(page, out / "annotate.png")


def lead_overview(browser: Browser, url: str, out: Path) -> None:
    page = _log_in(browser, url, "lead", f"/p/{SLUG}/lead/", PAGE_VIEWPORT)
    page.wait_for_function(
        "() => window.Chart && Chart.getChart('agreement-chart') && Chart.getChart('agreement-time-chart')"
    )
    _save(page, out / "lead-overview.png")


def _succeeded_job_path(page: Page) -> str | None:
    rows = page.locator("#jobs-table tbody tr").filter(has_text="Succeeded")
    if not rows.count():
        return None
    return rows.first.get_by_role("link").first.get_attribute("href")


def _train_a_job(page: Page, url: str) -> None:
    """Cut a snapshot and launch a short Scaled-BT job on it, as the researcher would."""
    page.goto(f"{url}/p/{SLUG}/snapshots/")
    page.fill("input[name=name]", "screenshots")
    page.get_by_role("button", name="Cut a snapshot").click()
    expect(page.locator("#snapshot-list .badge.ok").first).to_have_text("ready", timeout=JOB_WAIT_MS)
    page.goto(f"{url}/p/{SLUG}/jobs/")
    snapshot = page.locator("#id_snapshot option").first.get_attribute("value") or ""
    page.select_option("#id_snapshot", snapshot)
    page.select_option("#id_objective", "scaled_bt")
    page.locator(".jobs-hyper summary").click()
    page.fill("#id_epochs", "5")
    page.fill("#id_max_steps", "40")
    page.fill("#id_batch_size", "8")
    page.fill("#id_max_length", "256")
    page.get_by_role("button", name="Launch training").click()
    page.wait_for_url(re.compile(r"/jobs/\d+/$"))
    expect(page.locator("#job-status .job-status")).to_have_text(re.compile("Succeeded"), timeout=JOB_WAIT_MS)
    page.goto(page.url)  # again, without the "queued" message


def training_job(browser: Browser, url: str, out: Path, *, new_job: bool = False) -> None:
    page = _log_in(browser, url, "researcher", f"/p/{SLUG}/jobs/", PAGE_VIEWPORT)
    path = None if new_job else _succeeded_job_path(page)
    if path is None:
        _train_a_job(page, url)
    else:
        page.goto(f"{url}{path}")
    page.wait_for_function("() => window.Chart && Chart.getChart('job-chart')")
    _save(page, out / "training-job.png")


def recompress_png(data: bytes) -> bytes:
    """The same PNG with its image data deflated at level 9 (Chromium writes it fast, not small)."""
    signature, position = data[:8], 8
    chunks: list[tuple[bytes, bytes]] = []
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        chunks.append((kind, data[position + 8 : position + 8 + length]))
        position += 12 + length
    pixels = zlib.compress(zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT")), 9)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    out, wrote_pixels = [signature], False
    for kind, body in chunks:
        if kind == b"IDAT":
            if not wrote_pixels:
                out.append(chunk(b"IDAT", pixels))
                wrote_pixels = True
            continue
        out.append(chunk(kind, body))
    return b"".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running demo's address")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="where the PNGs go")
    parser.add_argument("--new-job", action="store_true", help="train a fresh job even where one succeeded")
    args = parser.parse_args()
    url = args.url.rstrip("/")
    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("No Chromium found: apt-get install chromium, or set CHROMIUM_PATH.", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            annotate(browser, url, args.out)
            lead_overview(browser, url, args.out)
            training_job(browser, url, args.out, new_job=args.new_job)
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
