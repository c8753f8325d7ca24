"""`make demo`: migrate, load the demo project, run the web server and one real Celery worker until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.django.base", "HF_HUB_OFFLINE": "1"}
    manage = [PYTHON, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], check=True, env=env, cwd=ROOT)
    print("Database ready (SQLite unless DATABASE_URL is set).")
    subprocess.run([*manage, "load_demo"], check=True, env=env, cwd=ROOT)
    # -B: the worker's embedded beat sends the stale-job sweep every minute (CELERY_BEAT_SCHEDULE).
    worker = subprocess.Popen(
        [PYTHON, "-m", "celery", "-A", "config", "worker", "-Q", "default", "--pool=solo", "--loglevel=warning",
         "--hostname", "demo-worker@%h", "-B", "--schedule", str(ROOT / "var" / "celerybeat-schedule")],
        env=env, cwd=ROOT,
    )  # fmt: skip
    web = subprocess.Popen([*manage, "runserver", "--noreload", f"127.0.0.1:{args.port}"], env=env, cwd=ROOT)
    print(f"\n  Prefstack is running at http://127.0.0.1:{args.port}/  (Ctrl-C stops the server and the worker)\n")
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping and web.poll() is None and worker.poll() is None:
            time.sleep(0.3)
    finally:
        for proc in (web, worker):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (web, worker):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        print("Stopped the web server and the worker.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
