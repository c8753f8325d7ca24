import os, time, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.django.base")
django.setup()
from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext
from annotator.models import *
from annotator.services.task_units import task_claim_next
from annotator.services.feedback import feedback_submit
from annotator.services.assignments import assignment_claim_next, annotation_submit
from annotator.selectors.task_units import task_assignment_get_for_annotator
from annotator.api.tasks import _output
from annotator.api.annotate import _assignment_output
from annotator.selectors.assignments import assignment_get_for_annotator
from django.contrib.auth.models import User
FB = "The response is mostly helpful. It answers the question and explains the main idea clearly, with a short example that shows how the parts fit together in practice. It could say more about the edge cases and should name the assumptions it makes about the input, because a reader who does not share them would be misled."
for task in ("comparison", "feedback"):
    p = Project.objects.filter(slug__startswith="prof-"+task).first()
    if p: p.delete()
    p = Project.objects.create(slug=f"prof-{task}", name=task, task_type=task, overlap=3)
    for spec in __import__("annotator.domain", fromlist=["x"]).HELPSTEER2_ATTRIBUTE_SPECS:
        Attribute.objects.create(project=p, **spec)
    for i in range(300):
        q = Prompt.objects.create(project=p, turns=[{"role":"user","content":"q"}])
        r1 = Response.objects.create(prompt=q, text="a "*100); r2 = Response.objects.create(prompt=q, text="b "*100)
        if task == "comparison": Comparison.objects.create(project=p, prompt=q, response_1=r1, response_2=r2)
        else: TaskUnit.objects.create(project=p, task_type=task, prompt=q, response_1=r1, response_2=r2)
    users = []
    for i in range(8):
        u, _ = User.objects.get_or_create(username=f"prof-{task}-{i}")
        Membership.objects.get_or_create(project=p, user=u, role=Role.ANNOTATOR)
        users.append(u)
    names = [a.name for a in p.attributes.all()]
    tc = ts = 0.0; nq_c = nq_s = 0
    N = 60
    for k in range(N):
        u = users[k % 8]
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            if task == "comparison":
                a = assignment_claim_next(project=p, annotator=u); _assignment_output(a)
            else:
                a = task_claim_next(project=p, annotator=u); _output(a)
            t1 = time.perf_counter()
        nq_c += len(ctx.captured_queries)
        with CaptureQueriesContext(connection) as ctx:
            t2 = time.perf_counter()
            if task == "comparison":
                a = assignment_get_for_annotator(assignment_id=a.pk, user=u)
                annotation_submit(assignment=a, annotator=u, ratings_shown={"left": dict.fromkeys(names, 3), "right": dict.fromkeys(names, 2)}, preference_strength=-1, justification="@Response 1 is better than @Response 2 here.")
            else:
                a = task_assignment_get_for_annotator(assignment_id=a.pk, user=u)
                feedback_submit(assignment=a, annotator=u, feedback_1=FB, feedback_2=FB)
            t3 = time.perf_counter()
        nq_s += len(ctx.captured_queries)
        tc += t1 - t0; ts += t3 - t2
    print(task, f"claim {tc/N*1000:.1f} ms {nq_c/N:.1f} q; submit {ts/N*1000:.1f} ms {nq_s/N:.1f} q")
    p.delete()

p = Project.objects.create(slug="prof-x", name="x", task_type="feedback", overlap=3)
for i in range(50):
    q = Prompt.objects.create(project=p, turns=[{"role":"user","content":"q"}])
    r1 = Response.objects.create(prompt=q, text="a"); r2 = Response.objects.create(prompt=q, text="b")
    TaskUnit.objects.create(project=p, task_type="feedback", prompt=q, response_1=r1, response_2=r2)
u, _ = User.objects.get_or_create(username="prof-x-1")
Membership.objects.get_or_create(project=p, user=u, role=Role.ANNOTATOR)
for k in range(3):
    with CaptureQueriesContext(connection) as ctx:
        a = task_claim_next(project=p, annotator=u); _output(a)
    if k == 2:
        for qq in ctx.captured_queries: print(qq["time"], qq["sql"][:150])
    with CaptureQueriesContext(connection) as ctx:
        a = task_assignment_get_for_annotator(assignment_id=a.pk, user=u)
        feedback_submit(assignment=a, annotator=u, feedback_1=FB, feedback_2=FB)
    if k == 2:
        for qq in ctx.captured_queries: print(qq["time"], qq["sql"][:150])
p.delete()
