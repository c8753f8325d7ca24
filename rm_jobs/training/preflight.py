"""Checks a run's model directory and settings before anything loads (no torch import: the web process calls them
when a job is created, so a bad request is a 400 and not a failed job).

Each error says what to change.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import json
from pathlib import Path
from typing import Any, Literal

from rm_jobs.training.config import TrainConfig

DeviceType = Literal["cpu", "cuda"]


class ModelInputError(ValueError):
    """A model directory, tokenizer or setting the engine cannot train with; the message says what to change."""


@functools.cache
def sequence_classification_model_types() -> frozenset[str]:
    """The ``model_type`` s that have an ``AutoModelForSequenceClassification`` class, read from transformers'
    own table (``MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES`` in ``models/auto/modeling_auto.py``) without
    importing it, since that import pulls in torch."""
    spec = importlib.util.find_spec("transformers")
    if spec is None or spec.origin is None:  # pragma: no cover - transformers is a requirement
        raise ModelInputError("transformers is not installed")
    source = Path(spec.origin).parent / "models" / "auto" / "modeling_auto.py"
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES" for t in targets):
            table = value.args[0] if isinstance(value, ast.Call) else value  # OrderedDict([...]) or a literal
            return frozenset(str(model_type) for model_type, _ in ast.literal_eval(table))
    raise ModelInputError(f"could not read the sequence-classification table of {source}")  # pragma: no cover


def read_model_config(path: str | Path) -> dict[str, Any]:
    """The ``config.json`` of a model directory, checked to be a sequence-classification-capable architecture."""
    directory = Path(path)
    config_file = directory / "config.json"
    if not config_file.is_file():
        raise ModelInputError(f"{directory} has no config.json: point the job at a transformers model directory")
    try:
        config: dict[str, Any] = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelInputError(f"{config_file} is not readable JSON: {error}") from error
    model_type = config.get("model_type")
    if model_type not in sequence_classification_model_types():
        raise ModelInputError(
            f"model type {model_type!r} at {directory} has no sequence-classification architecture in transformers: "
            "use a Llama, Qwen2/3, Mistral, Gemma or BERT-family model (any AutoModelForSequenceClassification)"
        )
    return config


def check_model_dir(path: str | Path) -> None:
    """Raise :class:`ModelInputError` unless ``path`` holds a sequence-classification-capable model."""
    read_model_config(path)


def _token(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) and value else None


def check_tokenizer_files(path: str | Path) -> None:
    """The tokenizer must name a pad or an EOS token (decoders pad with EOS), read from its JSON files."""
    directory = Path(path)
    found: dict[str, Any] = {}
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        file = directory / name
        if file.is_file():
            try:
                found.update({k: v for k, v in json.loads(file.read_text(encoding="utf-8")).items() if v})
            except ValueError as error:
                raise ModelInputError(f"{file} is not readable JSON: {error}") from error
    if not found and not (directory / "tokenizer.json").is_file() and not (directory / "vocab.txt").is_file():
        raise ModelInputError(f"{directory} has no tokenizer files: save the tokenizer next to the model")
    if found and _token(found.get("pad_token")) is None and _token(found.get("eos_token")) is None:
        raise ModelInputError(
            f"tokenizer at {directory} has neither a pad nor an EOS token: set pad_token (or eos_token) in its "
            "tokenizer_config.json"
        )


def check_device(config: TrainConfig, device_type: DeviceType) -> None:
    """Settings the device cannot run."""
    if config.qlora and device_type != "cuda":
        raise ModelInputError(
            "QLoRA (4-bit base) needs a CUDA GPU: run the job on the GPU queue, or turn qlora off and train plain "
            "LoRA (lora_r > 0) on this device"
        )


def preflight(config: TrainConfig, *, device_type: DeviceType) -> dict[str, Any]:
    """Every check that needs no weights; returns the model's ``config.json`` (for the memory planner)."""
    model_config = read_model_config(config.model_path)
    check_tokenizer_files(config.model_path)
    check_device(config, device_type)
    return model_config
