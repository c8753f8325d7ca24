"""Load benchmark: N simulated annotators claim and submit over HTTP, concurrently, for a fixed time.

It creates its own project, users and tokens in the database that DATABASE_URL names (PostgreSQL for the figure
that counts; SQLite by default), starts ``gunicorn config.wsgi`` on a free port (or uses ``--url``), runs one thread
per annotator with a keep-alive ``http.client`` connection each, in two phases (``--mode`` picks one):

* **paced** (the latency figures): the annotators together offer ``--rate`` submissions per second. Each one
  starts a claim-and-submit cycle at the times of its own Poisson schedule (exponential think times, mean
  ``annotators / rate``), so the starts of all of them form a Poisson process of that rate. A claim's latency is
  measured from its *scheduled* start, not from when the thread got round to sending it: a server that falls
  behind shows its queueing in the figures instead of slowing the clients down (no coordinated omission).
* **saturation** (the capacity figure): closed loop without think time; ``max_submissions_per_s`` is what the
  server sustains.

Then it checks the database:

* ``double_assignments``: comparisons holding more submitted annotations than overlap + extra annotators allow;
* ``lost_submissions``: submissions the server acknowledged (201) that are not in the database, plus annotations
  in the database that the clients never saw acknowledged.

``--task feedback`` / ``--task edit`` (or several: ``--task comparison feedback edit``) runs the same phases on a
feedback or edit project (HelpSteer3's task types, docs/task-types.md) through their API: claim
``/api/v1/projects/<slug>/tasks/next/``, submit ``/api/v1/tasks/<id>/feedback/`` or ``/edit/``. With several tasks,
each runs on its own project, one after the other on the same server, and its lines are prefixed with its name
(``feedback_claim_p95_ms``), so the task types compare on one run.

``--order informative`` measures the claim under active collection against the default order in the same run: a
second comparison project, identical but for ``queue_order = informative`` and a random stored priority on every comparison
(as a priority scoring leaves them), gets the same phases after the first; its lines carry the prefix
``informative_`` (and the default order's ``comparison_``).

Prints ``name: value unit`` lines, then the peer's figures (Label Studio 1.23, 8 annotators, from the issue).
The project it created is deleted afterwards unless ``--keep``. Timings mean something only on a quiet machine:
the server, the database and these clients share its cores.

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
TASKS = ("comparison", "feedback", "edit")
# A feedback within HelpSteer3's rules (2-10 sentences, 50-250 words, the helpfulness opening).
FEEDBACK = (
    "The response is mostly helpful. It answers the question and explains the main idea clearly, with a short "
    "example that shows how the parts fit together in practice. It could say more about the edge cases and should "
    "name the assumptions it makes about the input, because a reader who does not share them would be misled."
)
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


def _setup(
    n_annotators: int,
    n_comparisons: int,
    overlap: int,
    task: str = "comparison",
    pools: bool = False,
    order: str = "completion",
) -> tuple[str, list[str], list[str]]:
    """Create the project, its attributes, comparisons (or feedback / edit units), annotators and their tokens;
    return slug, tokens, names. With ``order`` informative, the project orders its queue by priority and every
    comparison gets a random stored priority (as a priority scoring leaves them).

    With ``pools`` (comparisons only), half the prompts are in the "code" domain, the project has a qualification set
    for it (so every claim runs the qualification filter), and every annotator has passed it."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from annotator.domain import HELPSTEER2_ATTRIBUTE_SPECS
    from annotator.models import (
        Attribute,
        Comparison,
        Membership,
        Project,
        Prompt,
        QueueOrder,
        Response,
        Role,
        TaskUnit,
    )  # fmt: skip

    call_command("migrate", verbosity=0)
    run = f"{int(time.time())}-{os.getpid()}-{task}-{order}"
    rng = random.Random(run)
    project = Project.objects.create(
        slug=f"bench-{run}", name=f"Load benchmark {run}", overlap=overlap, min_justification_length=20,
        task_type=task, queue_order=order,
    )  # fmt: skip
    for position, spec in enumerate(HELPSTEER2_ATTRIBUTE_SPECS):
        Attribute.objects.create(project=project, position=position, **spec)  # type: ignore[arg-type]
    prompts = Prompt.objects.bulk_create(
        [
            Prompt(
                project=project,
                turns=[{"role": "user", "content": f"Question {i}?"}],
                domain="code" if pools and i % 2 else "general",
            )
            for i in range(n_comparisons)
        ]
    )
    responses = Response.objects.bulk_create(
        [
            Response(prompt=p, text=f"Answer {k} to question {i}: " + "lorem ipsum " * 40)
            for i, p in enumerate(prompts)
            for k in (1, 2)
        ]
    )
    if task == "comparison":
        Comparison.objects.bulk_create(
            [
                Comparison(
                    project=project,
                    prompt=p,
                    response_1=responses[2 * i],
                    response_2=responses[2 * i + 1],
                    priority=rng.random() if order == QueueOrder.INFORMATIVE else 0.0,
                )
                for i, p in enumerate(prompts)
            ]
        )
    else:
        TaskUnit.objects.bulk_create(
            [
                TaskUnit(
                    project=project, task_type=task, prompt=p, response_1=responses[2 * i],
                    response_2=responses[2 * i + 1] if task == "feedback" else None,
                    feedback=[FEEDBACK] * 3 if task == "edit" else [],
                )
                for i, p in enumerate(prompts)
            ]
        )  # fmt: skip
    User = get_user_model()
    users = User.objects.bulk_create([User(username=f"bench-{run}-{i}") for i in range(n_annotators)])
    Membership.objects.bulk_create([Membership(project=project, user=u, role=Role.ANNOTATOR) for u in users])
    tokens = [Token.objects.create(user=u).key for u in users]
    if pools:
        _pools(project, users)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # fresh statistics and no dead rows of earlier runs, as autovacuum would
            cursor.execute("VACUUM ANALYZE")  # leave them in production (it may be off on a development server)
    return project.slug, tokens, [a["name"] for a in HELPSTEER2_ATTRIBUTE_SPECS]  # type: ignore[misc]


def _pools(project: object, users: list[object]) -> None:
    """A qualification set for the "code" domain (one extra gold comparison) that every annotator has passed."""
    from django.utils import timezone

    from annotator.models import AttemptStatus, Comparison, Prompt, QualificationAttempt, Response
    from annotator.services.qualification import qualification_set_create

    prompt = Prompt.objects.create(project=project, turns=[{"role": "user", "content": "Gold?"}], domain="code")
    first, second = (Response.objects.create(prompt=prompt, text=t) for t in ("Right.", "Wrong."))
    gold = Comparison.objects.create(
        project=project, prompt=prompt, response_1=first, response_2=second, is_gold=True, gold_ratings={"strength": -3}
    )
    qualification_set = qualification_set_create(project=project, name="Code", domain="code", items=[(gold.pk, "")])
    now = timezone.now()
    QualificationAttempt.objects.bulk_create(
        QualificationAttempt(
            qualification_set=qualification_set,
            annotator=u,
            number=1,
            status=AttemptStatus.PASSED,
            score=1.0,
            started_at=now,
            finished_at=now,
        )
        for u in users
    )


def _teardown(slug: str) -> None:
    from django.contrib.auth import get_user_model

    from annotator.models import Project

    get_user_model().objects.filter(username__startswith=slug + "-").delete()
    Project.objects.filter(slug=slug).delete()


@dataclass
class ClientStats:
    claim_ms: list[float] = field(default_factory=list)
    submit_ms: list[float] = field(default_factory=list)
    acked: list[int] = field(default_factory=list)
    errors: dict[int, int] = field(default_factory=dict)
    exhausted: bool = False


class Annotator:
    """One simulated annotator: a keep-alive connection, a token and a random source for its answers."""

    def __init__(
        self, base: str, slug: str, token: str, names: list[str], keep_alive: bool, task: str = "comparison"
    ) -> None:
        parts = urlsplit(base)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=180)
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        if not keep_alive:  # as a proxy in front of gunicorn would: each request goes to whichever worker is free
            self.headers["Connection"] = "close"
        self.task = task
        if task == "comparison":
            self.claim_path = f"/api/v1/projects/{slug}/assignments/next/"
            self.submit_path, self.acked_key = "/api/v1/assignments/{id}/submit/", "annotation"
        else:
            self.claim_path = f"/api/v1/projects/{slug}/tasks/next/"
            self.submit_path, self.acked_key = f"/api/v1/tasks/{{id}}/{task}/", "result"
        self.names = names
        self.rng = random.Random(token)

    def post(self, path: str, payload: bytes) -> tuple[int, bytes]:
        self.conn.request("POST", path, body=payload, headers=self.headers)
        r = self.conn.getresponse()
        return r.status, r.read()

    def warm_up(self) -> None:
        """Not measured: each worker imports the URLconf (and everything it pulls in) on its first request."""
        for _ in range(3):
            self.conn.request("GET", "/api/v1/assignments/0/draft/", headers=self.headers)  # 404 via auth and db
            self.conn.getresponse().read()
        if self.conn.sock is not None:
            self.conn.sock.settimeout(30)

    def answer(self) -> bytes:
        rng = self.rng
        seconds = round(rng.uniform(30, 300), 1)
        if self.task == "feedback":
            return json.dumps(
                {"feedback_1": FEEDBACK, "feedback_2": FEEDBACK, "time_on_task_seconds": seconds}
            ).encode()
        if self.task == "edit":
            edited = {"text": f"An edited answer {rng.random()}.", "change_summary": "Followed the feedback."}
            return json.dumps({**edited, "time_on_task_seconds": seconds}).encode()
        helpfulness = rng.randint(2, 4), rng.randint(1, 4)
        ratings = {
            "left": {n: rng.randint(0, 4) for n in self.names} | {"helpfulness": helpfulness[0]},
            "right": {n: rng.randint(0, 4) for n in self.names} | {"helpfulness": helpfulness[1]},
        }
        body = {
            "ratings": ratings,
            "preference_strength": rng.choice([-3, -2, -1, 1, 2]),
            "justification": PASSWORD_FREE_JUSTIFICATION,
            "time_on_task_seconds": round(rng.uniform(30, 300), 1),
        }
        return json.dumps(body).encode()

    def cycle(self, scheduled: float, stats: ClientStats) -> bool:
        """Claim and submit once; latencies count from ``scheduled`` (perf_counter time). False when nothing is left."""
        status, raw = self.post(self.claim_path, b"")
        stats.claim_ms.append((time.perf_counter() - scheduled) * 1000)
        if status == 204:
            stats.exhausted = True
            return False
        if status != 200:
            stats.errors[status] = stats.errors.get(status, 0) + 1
            return True
        assignment = json.loads(raw)["id"]
        payload = self.answer()
        t0 = time.perf_counter()
        status, raw = self.post(self.submit_path.format(id=assignment), payload)
        stats.submit_ms.append((time.perf_counter() - t0) * 1000)
        if status == 201:
            stats.acked.append(json.loads(raw)[self.acked_key])
        else:
            stats.errors[status] = stats.errors.get(status, 0) + 1
        return True


def _run_annotator(
    annotator: Annotator, start: threading.Barrier, seconds: float, mean_think_s: float | None, stats: ClientStats
) -> None:
    """Work for ``seconds`` after the barrier: paced by a Poisson schedule, or closed loop when ``mean_think_s`` is None."""
    try:
        start.wait()
    except threading.BrokenBarrierError:
        return
    began = time.perf_counter()
    deadline = began + seconds
    if mean_think_s is None:
        while time.perf_counter() < deadline and annotator.cycle(time.perf_counter(), stats):
            pass
        return
    scheduled = began + annotator.rng.expovariate(1 / mean_think_s)
    while scheduled < deadline:
        wait = scheduled - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        if not annotator.cycle(scheduled, stats):
            return
        scheduled += annotator.rng.expovariate(1 / mean_think_s)


@dataclass
class Phase:
    name: str
    elapsed_s: float
    stats: list[ClientStats]

    def values(self, attribute: str) -> list[float]:
        return [v for s in self.stats for v in getattr(s, attribute)]

    def acked(self) -> set[int]:
        return {a for s in self.stats for a in s.acked}

    def errors(self) -> dict[int, int]:
        total: dict[int, int] = {}
        for s in self.stats:
            for code, n in s.errors.items():
                total[code] = total.get(code, 0) + n
        return total


def _phase(name: str, annotators: list[Annotator], seconds: float, mean_think_s: float | None) -> Phase:
    stats = [ClientStats() for _ in annotators]
    start = threading.Barrier(len(annotators) + 1)
    threads = [
        threading.Thread(target=_run_annotator, args=(a, start, seconds, mean_think_s, s), daemon=True)
        for a, s in zip(annotators, stats, strict=True)
    ]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join(seconds + 60)
    return Phase(name, time.perf_counter() - began, stats)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _start_server(port: int, workers: int, threads: int, worker_class: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.django.base", "DJANGO_DEBUG": "false"}
    # The load is the point here: no API rate limit (PREFSTACK_API_THROTTLE_*, config/settings/security.py).
    env.update({"PREFSTACK_API_THROTTLE_USER": "", "PREFSTACK_API_THROTTLE_ANON": ""})
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
        worker_class,
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


def _warm_up(annotators: list[Annotator]) -> None:
    failures: list[BaseException] = []

    def warm(a: Annotator) -> None:
        try:
            a.warm_up()
        except OSError as exc:
            failures.append(exc)

    threads = [threading.Thread(target=warm, args=(a,), daemon=True) for a in annotators]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    if failures:
        raise SystemExit(f"the server did not answer the warm-up requests: {failures[0]!r}")


def _phase_lines(phase: Phase, prefix: str, checks: list[str], rate_name: str) -> list[str]:
    """The phase's ``name: value unit`` lines, with the database ``checks`` after the throughput."""
    claim, submit = phase.values("claim_ms"), phase.values("submit_ms")
    errors = phase.errors()
    acked = len(phase.acked())
    if any(s.exhausted for s in phase.stats):
        print(f"note: the queue ran out during the {phase.name} phase; use more --comparisons", file=sys.stderr)
    return [
        f"{prefix}claim_p50_ms: {_percentile(claim, 50):.1f} ms",
        f"{prefix}claim_p95_ms: {_percentile(claim, 95):.1f} ms",
        f"{prefix}submit_p50_ms: {_percentile(submit, 50):.1f} ms",
        f"{prefix}submit_p95_ms: {_percentile(submit, 95):.1f} ms",
        f"{rate_name}: {acked / phase.elapsed_s:.1f} 1/s",
        *checks,
        f"{prefix}server_errors: {sum(n for code, n in errors.items() if code >= 500)} responses",
        f"{prefix}other_errors: {sum(n for code, n in errors.items() if code < 500)} responses",
        f"{prefix}submissions: {acked} annotations in {phase.elapsed_s:.1f} s",
    ]


def _checks(task: str, slug: str, overlap: int, acked: set[int]) -> list[str]:
    """Over-assigned items and lost submissions of one task's project."""
    from django.db.models import Count, F

    from annotator.models import Annotation, Comparison, TaskResult, TaskUnit

    if task == "comparison":
        stored = set(Annotation.objects.filter(comparison__project__slug=slug).values_list("pk", flat=True))
        items = Comparison.objects.filter(project__slug=slug).annotate(n=Count("annotations"))
    else:
        stored = set(TaskResult.objects.filter(unit__project__slug=slug).values_list("pk", flat=True))
        items = TaskUnit.objects.filter(project__slug=slug).annotate(n=Count("results"))
    over = items.filter(n__gt=F("extra_annotators") + overlap).count()
    noun = "comparisons" if task == "comparison" else "units"
    return [
        f"double_assignments: {over} {noun}",
        f"lost_submissions: {len(acked - stored) + len(stored - acked)} {'annotations' if task == 'comparison' else 'results'}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["both", "paced", "saturation"], default="both")
    parser.add_argument(
        "--task", nargs="+", choices=TASKS, default=["comparison"],
        help="What the annotators do: compare (the default), write feedback, or edit; several run one after another.",
    )  # fmt: skip
    parser.add_argument("--annotators", type=int, default=32)
    parser.add_argument("--rate", type=float, default=100.0, help="Submissions per second offered in the paced phase.")
    parser.add_argument("--seconds", type=float, default=20.0, help="How long each phase lasts.")
    parser.add_argument("--comparisons", type=int, default=5000, help="Comparisons (or task units) per project.")
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument(
        "--order",
        choices=["completion", "informative"],
        default="completion",
        help="informative: also run every phase on a project ordered by stored priority (lines informative_*).",
    )
    # Measured on the 2-core development machine (paced 60/s and saturation, 15 s each, fresh project per run):
    # processes beat threads. 2 x 8 threads gave 60-77/s at saturation and seconds of queueing at 60/s (threads of
    # one process queue for the GIL after every database call, and keep-alive connections stay with the process
    # that accepted them); 6 x 1 gave 92-95/s and a claim p95 of 52-95 ms at 60/s; sync workers (a connection per
    # request) 60-75/s.
    parser.add_argument("--workers", type=int, default=6, help="gunicorn worker processes.")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker (gthread).")
    parser.add_argument("--worker-class", choices=["gthread", "sync"], default="gthread")
    parser.add_argument(
        "--keep-alive",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="One connection per annotator for the whole run (a connection stays with the worker that accepted it).",
    )
    parser.add_argument("--url", help="Use this running server (same DATABASE_URL) instead of starting gunicorn.")
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark's project and users.")
    parser.add_argument(
        "--pools", action="store_true", help="A qualification set on half the work, passed by every annotator."
    )
    args = parser.parse_args()
    # (name, task, queue order): each run is its own project; with --order informative, a second comparison project
    # ordered by stored priority.
    runs = [(task, task, "completion") for task in dict.fromkeys(args.task)]
    if args.order == "informative":
        runs.append(("informative", "comparison", "informative"))
    projects = {
        name: (task, *_setup(args.annotators, args.comparisons, args.overlap, task, args.pools, order))
        for name, task, order in runs
    }
    server = None
    base = args.url
    if base is None:
        port = _free_port()
        server = _start_server(port, args.workers, args.threads, args.worker_class)
        base = f"http://127.0.0.1:{port}"
    phases: dict[str, list[Phase]] = {}
    try:
        for name, (task, slug, tokens, names) in projects.items():
            annotators = [Annotator(base, slug, token, names, args.keep_alive, task) for token in tokens]
            _warm_up(annotators)
            phases[name] = []
            if args.mode in ("both", "paced"):
                phases[name].append(_phase("paced", annotators, args.seconds, args.annotators / args.rate))
            if args.mode in ("both", "saturation"):
                phases[name].append(_phase("saturation", annotators, args.seconds, mean_think_s=None))
            for a in annotators:
                a.conn.close()
    finally:
        if server is not None:
            server.terminate()
            try:  # a graceful stop waits for keep-alive connections; a loaded machine may need longer
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)

    from django.conf import settings
    from django.db import connection

    lines = [
        f"database: {connection.vendor}",
        f"annotators: {args.annotators} clients",
        f"qualification_pools: {'on' if args.pools else 'off'}",
        f"server: gunicorn {args.workers} {args.worker_class} workers"
        + (f" x {args.threads} threads" if args.worker_class == "gthread" else "")
        if server
        else f"server: {base}",
        f"prepared_statements: {'on' if settings.DATABASE_PREPARED_STATEMENTS else 'off'} (DATABASE_PREPARED_STATEMENTS)",
    ]
    for name, task_phases in phases.items():
        task, slug = projects[name][0], projects[name][1]
        acked = {a for phase in task_phases for a in phase.acked()}
        checks = _checks(task, slug, args.overlap, acked)
        prefix = f"{name}_" if len(projects) > 1 else ""
        task_lines: list[str] = []
        for phase in task_phases:
            if phase.name == "paced":
                task_lines += [
                    f"offered_rate: {args.rate:.1f} 1/s",
                    *_phase_lines(phase, "", checks, "submissions_per_s"),
                ]
                checks = []
        for phase in task_phases:
            if phase.name == "saturation":
                task_lines += _phase_lines(phase, "saturation_", checks, "max_submissions_per_s")
        lines += [f"{prefix}{line}" for line in task_lines]
    print("\n".join(lines))
    for name, (value, unit) in PEER.items():
        print(f"{name}: {value} {unit}")
    if not args.keep:
        for _, slug, _, _ in projects.values():
            _teardown(slug)


if __name__ == "__main__":
    main()
