"""Load benchmark: N simulated annotators claim and submit over HTTP, concurrently, for a fixed time.

It creates its own project, users and tokens in the database that DATABASE_URL names (PostgreSQL for the figure
that counts; SQLite by default), starts ``gunicorn config.wsgi`` on a free port (or uses ``--url``), runs one thread
per annotator with a keep-alive ``http.client`` connection each, then checks the database:

* ``double_assignments``: comparisons holding more submitted annotations than overlap + extra annotators allow;
* ``lost_submissions``: submissions the server acknowledged (201) that are not in the database, plus annotations
  in the database that the clients never saw acknowledged.

Prints ``name: value unit`` lines, then the peer's figures (Label Studio 1.23, 8 annotators, from the issue).
The project it created is deleted afterwards unless ``--keep``.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/prefstack_dev python benchmarks/annotate_load.py
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.django.base")

PASSWORD_FREE_JUSTIFICATION = "@Response 1 is more accurate and better organised than @Response 2."
PEER = {  # Label Studio 1.23, 8 annotators (the figures)
    "peer_label_studio_next_task_p95_ms": (5200, "ms"),
    "peer_label_studio_submit_p95_ms": (1800, "ms"),
    "peer_label_studio_annotations_per_s": (2.4, "1/s"),
    "peer_label_studio_over_assigned_tasks": (7, "of 96 tasks"),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _setup(n_annotators: int, n_comparisons: int, overlap: int) -> tuple[str, list[str], list[str]]:
    """Create the project, its attributes, comparisons, annotators and their tokens; return slug, tokens, names."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from annotator.models import Attribute, Comparison, Membership, Project, Prompt, Response, Role
    from annotator.models.project import HELPSTEER2_ATTRIBUTES

    call_command("migrate", verbosity=0)
    run = f"{int(time.time())}-{os.getpid()}"
    project = Project.objects.create(
        slug=f"bench-{run}", name=f"Load benchmark {run}", overlap=overlap, min_justification_length=20
    )
    for position, spec in enumerate(HELPSTEER2_ATTRIBUTES):
        Attribute.objects.create(project=project, position=position, **spec)  # type: ignore[arg-type]
    prompts = Prompt.objects.bulk_create(
        [Prompt(project=project, turns=[{"role": "user", "content": f"Question {i}?"}]) for i in range(n_comparisons)]
    )
    responses = Response.objects.bulk_create(
        [
            Response(prompt=p, text=f"Answer {k} to question {i}: " + "lorem ipsum " * 40)
            for i, p in enumerate(prompts)
            for k in (1, 2)
        ]
    )
    Comparison.objects.bulk_create(
        [
            Comparison(project=project, prompt=p, response_1=responses[2 * i], response_2=responses[2 * i + 1])
            for i, p in enumerate(prompts)
        ]
    )
    User = get_user_model()
    users = User.objects.bulk_create([User(username=f"bench-{run}-{i}") for i in range(n_annotators)])
    Membership.objects.bulk_create([Membership(project=project, user=u, role=Role.ANNOTATOR) for u in users])
    tokens = [Token.objects.create(user=u).key for u in users]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # fresh statistics, as autovacuum would have them in production
            cursor.execute("ANALYZE")
    return project.slug, tokens, [a["name"] for a in HELPSTEER2_ATTRIBUTES]  # type: ignore[misc]


def _teardown(slug: str) -> None:
    from django.contrib.auth import get_user_model

    from annotator.models import Project

    get_user_model().objects.filter(username__startswith=slug.replace("bench-", "bench-", 1) + "-").delete()
    Project.objects.filter(slug=slug).delete()


@dataclass
class ClientStats:
    claim_ms: list[float] = field(default_factory=list)
    submit_ms: list[float] = field(default_factory=list)
    acked: list[int] = field(default_factory=list)
    errors: dict[int, int] = field(default_factory=dict)
    exhausted: bool = False


def _annotator(
    base: str, slug: str, token: str, names: list[str], start: threading.Barrier, seconds: float, stats: ClientStats
) -> None:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json", "Connection": "keep-alive"}
    rng = random.Random(token)

    def post(path: str, body: dict | None) -> tuple[int, bytes]:
        payload = json.dumps(body).encode() if body is not None else b""
        conn.request("POST", path, body=payload, headers=headers)
        r = conn.getresponse()
        return r.status, r.read()

    # Warm-up, not measured: each worker imports the URLconf (and everything it pulls in) on its first request.
    conn.timeout = 180
    try:
        for _ in range(3):
            conn.request("GET", "/api/v1/assignments/0/draft/", headers=headers)  # a 404 that touches auth and db
            conn.getresponse().read()
    except OSError as exc:
        stats.errors[-1] = stats.errors.get(-1, 0) + 1
        print(f"warm-up failed: {exc!r}", file=sys.stderr)
        start.abort()
        return
    if conn.sock is not None:
        conn.sock.settimeout(30)
    try:
        start.wait()
    except threading.BrokenBarrierError:
        return
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        status, raw = post(f"/api/v1/projects/{slug}/assignments/next/", None)
        stats.claim_ms.append((time.perf_counter() - t0) * 1000)
        if status == 204:
            stats.exhausted = True
            return
        if status != 200:
            stats.errors[status] = stats.errors.get(status, 0) + 1
            continue
        assignment = json.loads(raw)["id"]
        helpfulness = rng.randint(2, 4), rng.randint(1, 4)
        ratings = {
            "left": {n: rng.randint(0, 4) for n in names} | {"helpfulness": helpfulness[0]},
            "right": {n: rng.randint(0, 4) for n in names} | {"helpfulness": helpfulness[1]},
        }
        body = {
            "ratings": ratings,
            "preference_strength": rng.choice([-3, -2, -1, 1, 2]),
            "justification": PASSWORD_FREE_JUSTIFICATION,
            "time_on_task_seconds": round(rng.uniform(30, 300), 1),
        }
        t0 = time.perf_counter()
        status, raw = post(f"/api/v1/assignments/{assignment}/submit/", body)
        stats.submit_ms.append((time.perf_counter() - t0) * 1000)
        if status == 201:
            stats.acked.append(json.loads(raw)["annotation"])
        else:
            stats.errors[status] = stats.errors.get(status, 0) + 1
    conn.close()


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _start_server(port: int, workers: int, threads: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.django.base", "DJANGO_DEBUG": "false"}
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
        "--preload",
    ]
    server = subprocess.Popen(cmd, cwd=ROOT, env=env)
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("gunicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--annotators", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0, help="How long the annotators work.")
    parser.add_argument("--comparisons", type=int, default=2000)
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--workers", type=int, default=max(2, min(8, (os.cpu_count() or 2))))
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--url", help="Use this running server (same DATABASE_URL) instead of starting gunicorn.")
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark's project and users.")
    args = parser.parse_args()

    slug, tokens, names = _setup(args.annotators, args.comparisons, args.overlap)
    server = None
    base = args.url
    if base is None:
        port = _free_port()
        server = _start_server(port, args.workers, args.threads)
        base = f"http://127.0.0.1:{port}"
    try:
        stats = [ClientStats() for _ in tokens]
        start = threading.Barrier(len(tokens) + 1)
        threads = [
            threading.Thread(target=_annotator, args=(base, slug, tok, names, start, args.seconds, s), daemon=True)
            for tok, s in zip(tokens, stats, strict=True)
        ]
        for t in threads:
            t.start()
        try:
            start.wait(timeout=600)
        except threading.BrokenBarrierError:
            raise SystemExit("the server did not answer the warm-up requests") from None
        started = time.perf_counter()
        for t in threads:
            t.join(args.seconds + 60)
        elapsed = time.perf_counter() - started
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)

    from django.db.models import Count, F

    from annotator.models import Annotation, Comparison

    acked = {a for s in stats for a in s.acked}
    stored = set(Annotation.objects.filter(comparison__project__slug=slug).values_list("pk", flat=True))
    over = (
        Comparison.objects.filter(project__slug=slug)
        .annotate(n=Count("annotations"))
        .filter(n__gt=F("extra_annotators") + args.overlap)
        .count()
    )
    claim = [v for s in stats for v in s.claim_ms]
    submit = [v for s in stats for v in s.submit_ms]
    errors: dict[int, int] = {}
    for s in stats:
        for code, n in s.errors.items():
            errors[code] = errors.get(code, 0) + n
    from django.db import connection

    print(f"database: {connection.vendor}")
    print(f"annotators: {args.annotators} clients")
    print(f"duration: {elapsed:.1f} s")
    print(f"claim_p50_ms: {_percentile(claim, 50):.1f} ms")
    print(f"claim_p95_ms: {_percentile(claim, 95):.1f} ms")
    print(f"submit_p50_ms: {_percentile(submit, 50):.1f} ms")
    print(f"submit_p95_ms: {_percentile(submit, 95):.1f} ms")
    print(f"submissions_per_s: {len(acked) / elapsed:.1f} 1/s")
    print(f"submissions: {len(acked)} annotations")
    print(f"double_assignments: {over} comparisons")
    print(f"lost_submissions: {len(acked - stored) + len(stored - acked)} annotations")
    print(f"server_errors: {sum(n for code, n in errors.items() if code >= 500)} responses")
    print(f"other_errors: {sum(n for code, n in errors.items() if code < 500)} responses")
    if any(s.exhausted for s in stats):
        print("note: the queue ran out before the time was up; use more --comparisons", file=sys.stderr)
    for name, (value, unit) in PEER.items():
        print(f"{name}: {value} {unit}")
    if not args.keep:
        _teardown(slug)


if __name__ == "__main__":
    main()
