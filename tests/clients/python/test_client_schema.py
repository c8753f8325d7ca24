"""The Python client agrees with the API's OpenAPI schema: every request it can make (method, path template, query
parameters, body fields and encoding) is in the schema, and every field it reads is a required property of the
answer's schema, nested objects included. Renaming a field on either side fails here."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from prefstack import models
from prefstack.operations import OPERATIONS, Operation, operation_id

ENCODINGS = {"json": "application/json", "multipart": "multipart/form-data"}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while True:
        if "$ref" in node:
            node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
        elif "allOf" in node and len(node["allOf"]) == 1:
            node = node["allOf"][0]
        else:
            return node


def _properties(schema: dict[str, Any], node: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Properties and required names of an object schema (of all its alternatives, for a oneOf)."""
    node = _resolve(schema, node)
    if "oneOf" in node:
        props: dict[str, Any] = {}
        for alternative in node["oneOf"]:
            more, _ = _properties(schema, alternative)
            props.update(more)
        return props, set()
    return node.get("properties", {}), set(node.get("required", []))


def _read_problems(schema: dict[str, Any], cls: type[Any], node: dict[str, Any], where: str) -> list[str]:
    props, required = _properties(schema, node)
    problems = []
    for name, nested in models.read_fields(cls).items():
        if name not in props:
            problems.append(f"{where}: the client reads {cls.__name__}.{name}, not in the answer's schema")
            continue
        if name not in required:
            problems.append(f"{where}: {cls.__name__}.{name} is not a required property of the answer")
        if nested is not None:
            child = _resolve(schema, props[name])
            if child.get("type") == "array":
                child = child["items"]
            problems += _read_problems(schema, nested, child, f"{where}.{name}")
    return problems


def operation_problems(schema: dict[str, Any], key: str, operation: Operation) -> list[str]:
    """What of ``operation`` the schema does not have (empty: they agree)."""
    where = f"{key} ({operation.method} {operation.path})"
    entry = schema["paths"].get(operation.path, {}).get(operation.method.lower())
    if entry is None:
        return [f"{where}: no such operation in the schema"]
    problems = []
    if entry["operationId"] != operation_id(key):
        problems.append(f"{where}: the schema calls it {entry['operationId']}")
    query = {p["name"] for p in entry.get("parameters", []) if p["in"] == "query"}
    problems += [f"{where}: query parameter {name} not in the schema" for name in sorted(operation.query - query)]
    body = entry.get("requestBody")
    if operation.encoding == "none":
        if body is not None and body.get("required"):
            problems.append(f"{where}: the schema requires a body")
    elif body is None or ENCODINGS[operation.encoding] not in body["content"]:
        problems.append(f"{where}: no {operation.encoding} body in the schema")
    else:
        props, _ = _properties(schema, body["content"][ENCODINGS[operation.encoding]]["schema"])
        problems += [f"{where}: body field {name} not in the schema" for name in sorted(operation.body - set(props))]
    answer = entry["responses"].get(str(operation.status))
    if answer is None:
        return [*problems, f"{where}: no {operation.status} answer in the schema"]
    if operation.result is not None:
        node = answer["content"]["application/json"]["schema"]
        if operation.many == "page":
            node = _resolve(schema, node)["properties"]["results"]["items"]
        problems += _read_problems(schema, operation.result, node, where)
    return problems


def test_every_operation_of_the_client_is_in_the_schema(schema: dict[str, Any]) -> None:
    problems = [p for key, operation in OPERATIONS.items() for p in operation_problems(schema, key, operation)]
    assert problems == []


def test_a_field_renamed_in_the_schema_is_caught(schema: dict[str, Any]) -> None:
    renamed = copy.deepcopy(schema)
    snapshot = renamed["components"]["schemas"]["SnapshotOutput"]
    snapshot["properties"]["state"] = snapshot["properties"].pop("status")
    rule = renamed["components"]["schemas"]["RuleOutput"]
    rule["properties"]["label"] = rule["properties"].pop("name")
    problems = operation_problems(renamed, "snapshots_retrieve", OPERATIONS["snapshots_retrieve"])
    assert any("Snapshot.status" in p for p in problems)
    assert any("AggregationRule.name" in p for p in problems)  # nested objects are checked too


def test_a_field_renamed_in_the_client_is_caught(schema: dict[str, Any]) -> None:
    create = OPERATIONS["snapshots_create"]
    body = dataclasses.replace(create, body=create.body - {"split_seed"} | {"seed"})
    assert operation_problems(schema, "snapshots_create", body) == [
        "snapshots_create (POST /api/v1/projects/{slug}/snapshots/create/): body field seed not in the schema"
    ]
    listing = OPERATIONS["snapshots_list"]
    query = dataclasses.replace(listing, query=listing.query | {"state"})
    assert "query parameter state" in operation_problems(schema, "snapshots_list", query)[0]

    @dataclasses.dataclass(frozen=True)
    class RenamedJob:
        id: int
        steps: int

    read = dataclasses.replace(OPERATIONS["training_jobs_retrieve"], result=RenamedJob)
    assert operation_problems(schema, "training_jobs_retrieve", read) == [
        "training_jobs_retrieve (GET /api/v1/training-jobs/{job_id}/): the client reads RenamedJob.steps, not in "
        "the answer's schema"
    ]
    moved = dataclasses.replace(OPERATIONS["webhooks_delete"], path="/api/v1/webhooks/{webhook_id}/delete/")
    assert "no such operation" in operation_problems(schema, "webhooks_delete", moved)[0]
