"""`machinerie maintenance` as a maintainer runs it, on the hub's SQLite data folder."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from hub.db import make_engine, migrate, session_factory
from hub.maintenance.monitor import MaintenanceMonitor
from hub.maintenance.settings import MaintenanceSettings
from hub.settings import load_settings
from machinerie.cli import app
from tests.hub_maintenance.conftest import LASER, Notified, make_workshop, record, session_event

runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture
def hub_db(tmp_path: Path) -> Engine:
    engine = make_engine(load_settings(None, data_dir=tmp_path).database)
    migrate(engine)
    with session_factory(engine)() as db:
        make_workshop(db)
    return engine


def run(tmp_path: Path, *args: str) -> Result:
    return runner.invoke(app, ["maintenance", *args, "--data-dir", str(tmp_path)])


def test_defaults_status_intervention_and_alerts(tmp_path: Path, hub_db: Engine) -> None:
    added = run(tmp_path, "defaults", LASER)
    assert added.exit_code == 0, added.output
    assert "2 plan(s) added: laser tube, lens and mirror cleaning" in added.output
    assert "0 plan(s) added" in run(tmp_path, "defaults", LASER).output
    custom = run(
        tmp_path,
        "add",
        LASER,
        "chiller water",
        "--counter",
        "days",
        "--warning",
        "80",
        "--limit",
        "90",
    )
    assert custom.exit_code == 0, custom.output

    # A session that ends now, after the plans began: the lens plan (limit 20) is overdue.
    record(hub_db, session_event(LASER, datetime.now(UTC), busy_h=21))
    MaintenanceMonitor(hub_db, MaintenanceSettings(), notify=Notified(), sender=None).evaluate()
    status = run(tmp_path, "status", "--machine", LASER)
    assert status.exit_code == 0, status.output
    lens = next(line for line in status.output.splitlines() if "lens" in line)
    assert "21" in lens and "limit" in lens
    assert "lens and mirror cleaning" in run(tmp_path, "alerts", "--open").output

    plan_id = lens.split()[1]
    done = run(tmp_path, "intervention", plan_id, "--by", "ben", "--what", "cleaned optics")
    assert done.exit_code == 0, done.output
    assert "counter reset, now ok" in done.output
    assert "lens" not in run(tmp_path, "alerts", "--open").output


def test_mistakes_end_with_a_message(tmp_path: Path, hub_db: Engine) -> None:
    unknown = run(tmp_path, "defaults", "nowhere")
    assert unknown.exit_code == 1
    assert "error: no machine 'nowhere'" in unknown.output
    bad = run(tmp_path, "add", LASER, "x", "--counter", "jobs", "--warning", "9", "--limit", "5")
    assert bad.exit_code == 1 and "error:" in bad.output
