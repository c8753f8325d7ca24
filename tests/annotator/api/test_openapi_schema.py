"""The OpenAPI schema of the whole API (every app's endpoints) is generated without warnings and is valid."""

from __future__ import annotations

import io

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema() -> dict:
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    return yaml.safe_load(out.getvalue())


def test_schema_is_valid_openapi_3(schema: dict) -> None:
    assert schema["openapi"].startswith("3.")


def test_every_operation_documents_its_success_and_error_bodies(schema: dict) -> None:
    missing = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation.get("responses", {})
            if not any(code.startswith("2") for code in responses):
                missing.append(f"{method.upper()} {path}: no 2xx")
            if "401" not in responses and operation.get("security") != [{}]:
                missing.append(f"{method.upper()} {path}: no 401")
            for code, response in responses.items():
                # a redirect (302 to a presigned download URL) has no body; every error has one
                if not code.startswith(("2", "3")) and "content" not in response:
                    missing.append(f"{method.upper()} {path}: {code} has no body")
    assert missing == []


def test_snapshot_endpoints_are_in_the_schema(schema: dict) -> None:
    paths = schema["paths"]
    assert "post" in paths["/api/v1/projects/{slug}/snapshots/create/"]
    assert "get" in paths["/api/v1/snapshots/{snapshot_id}/download/"]
    error = schema["components"]["schemas"]["ErrorOutput"]
    assert set(error["properties"]) == {"message", "code", "extra"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/snapshots/{snapshot_id}/download/",
        "/api/v1/training-jobs/{job_id}/checkpoint/",
        "/api/v1/evaluations/{evaluation_id}/results.json",
    ],
)
def test_downloads_document_the_file_or_the_redirect_to_the_store(schema: dict, path: str) -> None:
    responses = schema["paths"][path]["get"]["responses"]
    assert "content" in responses["200"]
    assert "presigned URL" in responses["302"]["description"]
    assert "content" in responses["503"]  # the file store is unavailable: {"message", "code", "extra"}


def test_schema_and_docs_are_served(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


def test_the_schema_states_the_rules_the_api_checks(schema: dict) -> None:
    components, paths = schema["components"]["schemas"], schema["paths"]
    strength = components["SubmitInputRequest"]["properties"]["preference_strength"]
    assert (strength["type"], strength["minimum"], strength["maximum"]) == ("integer", -3, 3)
    skip = [ref["$ref"].rsplit("/", 1)[1] for ref in components["SkipInputRequest"]["oneOf"]]
    other = components[skip[1]]
    assert "note" in other["required"]
    assert other["properties"]["note"]["pattern"] == r"\S"
    download = paths["/api/v1/snapshots/{snapshot_id}/download/"]["get"]["responses"]["200"]["content"]
    assert set(download) == {
        "application/vnd.apache.parquet",
        "application/jsonl",
        "application/gzip",
        "application/zip",
    }
    split = next(p for p in paths["/api/v1/projects/{slug}/comparisons/"]["get"]["parameters"] if p["name"] == "split")
    assert "" in split["schema"]["enum"]
    assert "minLength" not in split["schema"]
    offset = next(p for p in paths["/api/v1/projects/"]["get"]["parameters"] if p["name"] == "offset")
    assert offset["schema"]["maximum"] == 10**9
    import_responses = paths["/api/v1/projects/{slug}/comparisons/import/"]["post"]["responses"]
    assert "422" in import_responses


def _forms(schema: dict, body_schema: dict) -> list[dict]:
    """The forms a request body may take: the one component it names, or each of its ``oneOf``."""
    components = schema["components"]["schemas"]

    def resolve(s: dict) -> dict:
        return components[s["$ref"].rsplit("/", 1)[1]] if "$ref" in s else s

    body = resolve(body_schema)
    return [resolve(form) for form in body.get("oneOf", [body])]


def test_a_body_whose_every_form_has_a_required_field_is_itself_required(schema: dict) -> None:
    """An empty body must not look valid where every form of it needs a field (the one-of-several bodies too)."""
    optional = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody")
            if body is None or body.get("required"):
                continue
            for content in body["content"].values():
                if all(form.get("required") for form in _forms(schema, content["schema"])):
                    optional.append(f"{method.upper()} {path}")
    assert optional == []
    scoring = schema["paths"]["/api/v1/projects/{slug}/priority-scorings/create/"]["post"]["requestBody"]
    assert scoring["required"] is True


def test_domain_and_language_inputs_state_the_one_line_rule(schema: dict) -> None:
    """The schema's pattern is the expression the service checks with (drf-spectacular spells its escapes \\uXXXX),
    so a name the schema allows is never refused, and one it refuses never reaches the service."""
    import re

    from annotator.domain import SCOPE_MAX_LENGTH, scope_valid

    samples = ["code", "Ñô äJÝ", "a\x00", "tab\tbed", "x\x81", "a\u2028b", "a\nb", "x" * SCOPE_MAX_LENGTH]
    found = []
    for name, component in schema["components"]["schemas"].items():
        for field in ("domain", "language"):
            prop = component.get("properties", {}).get(field)
            if not name.endswith("Request") or prop is None:
                continue
            assert "oneOf" not in prop, (name, field)  # "" matches the pattern and the blank branch: anyOf
            (text,) = [form for form in prop.get("anyOf", [prop]) if form.get("maxLength") != 0]
            pattern = re.compile(text["pattern"])
            assert text["maxLength"] == SCOPE_MAX_LENGTH, (name, field)
            assert [bool(pattern.search(v)) for v in samples] == [scope_valid(v) for v in samples], (name, field)
            found.append(name)
    assert {"ComparisonImportInputRequest", "GenerationRunCreateInputRequest"} <= set(found)
    listing = schema["paths"]["/api/v1/projects/{slug}/comparisons/"]["get"]["parameters"]
    (domain,) = [p["schema"] for p in listing if p["name"] == "domain"]
    assert "oneOf" not in domain and {"type": "string", "maxLength": 0} in domain["anyOf"]
