"""The training fixtures of tests/rm_jobs (a tiny local base model) for the client's tests."""

from tests.rm_jobs.conftest import tiny_base_model, tiny_model  # noqa: F401 - fixtures
