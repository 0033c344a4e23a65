"""Published JSON Schemas: committed files match the models, and a generic validator agrees.

A third-party device is written from docs/contract.md and contracts/schema/; these tests keep both
in step with the models the hub actually validates with.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from typer.testing import CliRunner

from contracts import schema as schemas
from contracts.cli import app
from contracts.codec import MAX_SIGNED_PAYLOAD, decode, encode
from contracts.models import DATA_BY_TYPE, Event, EventType
from tests.contracts.test_models import events

DOC = Path(__file__).parents[2] / "docs" / "contract.md"


def committed(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((schemas.SCHEMA_DIR / f"{name}.schema.json").read_text())
    return loaded


# ---------------------------------------------------------------- no drift


def test_committed_schemas_equal_a_fresh_export(tmp_path: Path) -> None:
    written = schemas.export(tmp_path)
    assert sorted(path.name for path in written) == sorted(
        path.name for path in schemas.SCHEMA_DIR.glob("*.schema.json")
    ), "run `machinerie contracts schema` and commit contracts/schema/"
    for path in written:
        assert (schemas.SCHEMA_DIR / path.name).read_text() == path.read_text(), (
            f"{path.name} is stale: run `machinerie contracts schema` and commit the result"
        )
    assert schemas.drift() == []


def test_export_is_deterministic_and_stable(tmp_path: Path) -> None:
    first = {p.name: p.read_bytes() for p in schemas.export(tmp_path / "a")}
    second = {p.name: p.read_bytes() for p in schemas.export(tmp_path / "b")}
    assert first == second
    for name, text in first.items():
        assert text.endswith(b"}\n"), name
        parsed = json.loads(text)
        assert json.dumps(parsed, indent=2, sort_keys=True).encode() + b"\n" == text


@pytest.mark.parametrize("name", list(schemas.PAYLOADS))
def test_every_schema_names_itself(name: str) -> None:
    schema = committed(name)
    tag = schemas.schema_tag(schemas.PAYLOADS[name])
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"urn:machinerie:schema:{name}:1"
    assert schema["title"] == f"{schemas.PAYLOADS[name].__name__} ({tag})"
    assert schema["properties"]["schema"]["const"] == tag
    assert schema["required"][0] == "schema"
    assert schema["additionalProperties"] is False


def test_drift_names_stale_missing_and_unknown_files(tmp_path: Path) -> None:
    schemas.export(tmp_path)
    (tmp_path / "ack.schema.json").write_text("{}\n")
    (tmp_path / "status.schema.json").unlink()
    (tmp_path / "old.schema.json").write_text("{}\n")
    assert schemas.drift(tmp_path) == ["ack.schema.json", "old.schema.json", "status.schema.json"]


def test_schema_command_writes_and_checks(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["schema", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(result.stdout.split()) == sorted(
        str(tmp_path / f"{name}.schema.json") for name in schemas.PAYLOADS
    )
    assert runner.invoke(app, ["schema", "--out", str(tmp_path), "--check"]).exit_code == 0
    (tmp_path / "event.schema.json").write_text("{}\n")
    stale = runner.invoke(app, ["schema", "--out", str(tmp_path), "--check"])
    assert stale.exit_code == 1
    assert "event.schema.json" in stale.output


def test_schema_command_checks_the_committed_folder_by_default() -> None:
    result = CliRunner().invoke(app, ["schema", "--check"])
    assert result.exit_code == 0, result.output


# ---------------------------------------------------------------- a generic validator agrees


@pytest.fixture(scope="module")
def jsonschema() -> ModuleType:
    # A dev dependency: a missing validator must fail the run, not skip these checks.
    return importlib.import_module("jsonschema")


def validator(jsonschema: ModuleType, name: str) -> Any:
    cls = jsonschema.Draft202012Validator
    schema = committed(name)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def valid(jsonschema: ModuleType, name: str, payload: object) -> bool:
    return bool(validator(jsonschema, name).is_valid(payload))


@pytest.mark.parametrize("name", list(schemas.PAYLOADS))
def test_examples_validate_against_their_schema(jsonschema: ModuleType, name: str) -> None:
    for example in committed(name)["examples"]:
        validator(jsonschema, name).validate(example)
        decode(schemas.PAYLOADS[name], json.dumps(example).encode(), MAX_SIGNED_PAYLOAD)


def sample_event() -> dict[str, Any]:
    sample: dict[str, Any] = json.loads(encode(schemas.example_events()[0]))
    return sample


def test_a_device_event_validates(jsonschema: ModuleType) -> None:
    # What an ESP32 would send after reading the docs: hand-written, not produced by pydantic.
    sample = {
        "schema": "machinerie.event/1",
        "event_id": "0b6d8f0e-2f0c-4f57-9a51-3c1a1b2e4d5f",
        "site": "dony",
        "device_id": "esp32-drill-3",
        "machine_id": "drill-3",
        "boot_id": "a1d0c0de-0000-4000-8000-000000000001",
        "seq": 12,
        "time": "2026-11-23T13:31:00.123Z",
        "clock_synced": False,
        "type": "access_denied",
        "data": {"badge_uid": "04A2246AB12C80", "reason": "unknown_badge"},
    }
    assert valid(jsonschema, "event", sample)
    assert decode(Event, json.dumps(sample).encode()).seq == 12


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"colour": "red"}, "unknown field"),
        ({"schema": "machinerie.event/2"}, "other version"),
        ({"seq": 0}, "seq starts at 1"),
        ({"event_id": "42"}, "not a UUID"),
        ({"device_id": "ESP32 drill"}, "not an id"),
        ({"type": "coffee_made"}, "unknown type"),
        ({"data": {"version": 1, "entries": 0}}, "data of another type"),
        ({"data": {"badge_uid": "04a2246ab12c80", "reason": "unknown_badge"}}, "lower-case UID"),
        ({"data": {"badge_uid": "04A2", "reason": "no_such_reason"}}, "unknown deny reason"),
    ],
)
def test_schema_and_decoder_both_reject(
    jsonschema: ModuleType, change: dict[str, Any], why: str
) -> None:
    sample = sample_event() | {"type": "access_denied"} | change
    if "data" not in change:
        sample["data"] = {"badge_uid": "04A2246AB12C80", "reason": "unknown_badge"}
    assert not valid(jsonschema, "event", sample), why
    with pytest.raises(ValueError):
        decode(Event, json.dumps(sample).encode())


def test_schema_requires_the_schema_field(jsonschema: ModuleType) -> None:
    # Stricter than the decoder on purpose: devices must always say which version they speak.
    sample = sample_event()
    del sample["schema"]
    assert not valid(jsonschema, "event", sample)


@pytest.mark.parametrize("event_type", list(EventType))
def test_event_schema_binds_data_to_type(jsonschema: ModuleType, event_type: EventType) -> None:
    others = [e for e in schemas.example_events() if e.type is not event_type]
    for other in others:
        sample = sample_event() | {"type": event_type.value}
        sample["data"] = json.loads(encode(other))["data"]
        assert not valid(jsonschema, "event", sample), (event_type, other.type)
    assert DATA_BY_TYPE[event_type].__name__ in committed("event")["$defs"]


@given(events())
# No deadline: a validator built per example is slow on a loaded machine, never wrong.
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_valid_event_validates_against_the_schema(event: Event) -> None:
    module = pytest.importorskip("jsonschema")
    assert valid(module, "event", json.loads(encode(event)))


# ---------------------------------------------------------------- the documentation

# Every JSON example in docs/contract.md follows a `<!-- payload: NAME -->` marker.
_EXAMPLE = re.compile(r"<!-- payload: (\w+) -->\s*```json\n(.*?)```", re.DOTALL)


def doc_examples() -> list[tuple[str, str]]:
    return [(name, body) for name, body in _EXAMPLE.findall(DOC.read_text(encoding="utf-8"))]


def test_docs_show_every_payload_and_event_type() -> None:
    examples = doc_examples()
    assert {name for name, _ in examples} == set(schemas.PAYLOADS)
    shown = {json.loads(body).get("type") for name, body in examples if name == "event"}
    assert {t.value for t in EventType} <= shown


def test_doc_examples_are_valid_payloads(jsonschema: ModuleType) -> None:
    for name, body in doc_examples():
        decode(schemas.PAYLOADS[name], body.encode(), MAX_SIGNED_PAYLOAD)
        validator(jsonschema, name).validate(json.loads(body))


def property_names(schema: object) -> set[str]:
    """Every property name anywhere in a schema, nested models included."""
    if isinstance(schema, list):
        return set().union(*map(property_names, schema)) if schema else set()
    if not isinstance(schema, dict):
        return set()
    properties = schema.get("properties")
    names = set(properties) if isinstance(properties, dict) else set()
    nested = (property_names(value) for key, value in schema.items() if key != "examples")
    return names.union(*nested)


def test_docs_describe_every_field() -> None:
    text = DOC.read_text(encoding="utf-8")
    fields = set().union(*(property_names(committed(name)) for name in schemas.PAYLOADS))
    missing = sorted(name for name in fields if f"`{name}`" not in text)
    assert missing == [], f"docs/contract.md does not describe {missing}"
