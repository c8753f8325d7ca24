"""Celery: Redis in production, kombu's filesystem transport as the embedded zero-server default.

The filesystem transport was measured on this project's machine at about 0.1 s a round trip with
``polling_interval=0.1`` and supports fanout (so ``celery inspect ping`` and revokes work). Producer and consumer
must share one folder, so it is for a single host only.
"""

from pathlib import Path

from config.env import BASE_DIR, env_str

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_QUEUE_ROOT = Path(env_str("PREFSTACK_CELERY_ROOT", str(BASE_DIR / "var" / "celery")))

if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue = CELERY_QUEUE_ROOT / "queue"
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "control_folder": str(CELERY_QUEUE_ROOT / "control"),
        "processed_folder": str(CELERY_QUEUE_ROOT / "processed"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
    for _folder in ("queue", "control", "processed"):
        (CELERY_QUEUE_ROOT / _folder).mkdir(parents=True, exist_ok=True)
else:
    # Redis: a message unacknowledged for this long is handed to another worker (acks_late + dead worker).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}

CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "default"
# Long jobs: acknowledge after the task ran, so a worker killed mid-job does not silently drop it.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# How long the worker waits for a result from a pool process that died before it hands the task back (Celery's
# default: 10 s). A killed training job's task is redelivered that much sooner; its result would be in the database.
CELERY_WORKER_LOST_WAIT = 1.0
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = False

# Training, evaluation and reward-model priority-scoring tasks are sent to the job's own queue ("default" = CPU, "gpu")
# at enqueue time; the stale-work sweeps (training jobs, evaluations and priority scorings; generation and judge runs)
# run on the default queue, every minute when a beat process runs (and at every worker start).
CELERY_TASK_ROUTES = {
    "rm_jobs.training_jobs_sweep_stale": {"queue": "default"},
    "annotator.model_runs_sweep_stale": {"queue": "default"},
    # Generation runs wait on HTTP, not on a GPU: the default queue (per-endpoint limits are inside the task).
    "annotator.generation_run_execute": {"queue": "default"},
}
CELERY_BEAT_SCHEDULE = {
    # Training jobs, evaluations and priority scorings whose worker died (one task: annotator must not import rm_jobs).
    "rm-jobs-sweep-stale": {"task": "rm_jobs.training_jobs_sweep_stale", "schedule": 60.0},
    # Generation and judge runs whose worker died: the same heartbeat rule (annotator.services.heartbeats).
    "model-runs-sweep-stale": {"task": "annotator.model_runs_sweep_stale", "schedule": 60.0},
}
