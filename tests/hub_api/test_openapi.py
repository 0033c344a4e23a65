"""The API's contract: a complete OpenAPI document, Prometheus metrics, and a matching schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

import hub.api.models
import hub.ledger.models
import hub.registry.models  # noqa: F401  (the tables the schema must match)
from hub.db import Base
from tests.hub_api.conftest import Api

OPEN = {("/auth/login", "post"), ("/metrics", "get")}


def test_every_operation_is_documented(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert operation.get("summary") and operation.get("tags"), where
            codes = set(operation["responses"])
            assert any(code.startswith("2") for code in codes), where
            if (path, method) in OPEN:
                assert "security" not in operation, where
                continue
            assert operation["security"] == [{"HTTPBearer": []}], where
            assert {"401", "403"} <= codes or path == "/auth/me", where
    login = schema["paths"]["/auth/login"]["post"]
    assert {"401", "422", "429"} <= set(login["responses"])
    assert set(login["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
    }


def test_metrics_render_as_prometheus_text(api: Api) -> None:
    api.metrics.inc("messages", 3, outcome="stored")
    api.login("nobody", "wrong password")
    response = api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = response.text.splitlines()
    assert 'machinerie_messages{outcome="stored"} 3' in lines
    assert 'machinerie_api_logins{outcome="failed"} 1' in lines
    assert "# TYPE machinerie_api_logins counter" in lines


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
