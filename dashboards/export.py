"""The dashboards as JSON files: dashboards/json/<uid>.json, written by `export` and compared
with a fresh build by `drift` (what `machinerie dashboards export --check` and the tests run), so
the committed files cannot drift from the code that builds them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contracts.generated import drifted, write_all
from dashboards.build import dashboards
from dashboards.errors import InvalidDashboard
from dashboards.validate import plain, problems

JSON_DIR = Path(__file__).parent / "json"
SUFFIX = ".json"


def render() -> dict[str, str]:
    """File name to file text for every dashboard: sorted keys and a trailing newline. A
    dashboard that fails validation raises InvalidDashboard, so none is ever written."""
    files = {}
    for board in dashboards():
        data = plain(board)
        found = problems(data)
        if found:
            raise InvalidDashboard(f"{data.get('uid')}: " + "; ".join(found))
        files[f"{data['uid']}{SUFFIX}"] = json.dumps(data, indent=2, sort_keys=True) + "\n"
    return files


def export(folder: Path = JSON_DIR) -> list[Path]:
    """Write one `<uid>.json` per dashboard into `folder`; return the paths written."""
    return write_all(folder, render())


def drift(folder: Path = JSON_DIR) -> list[str]:
    """Names of dashboard files in `folder` that are missing, stale or unknown."""
    return drifted(folder, render(), SUFFIX)


def load(folder: Path = JSON_DIR) -> list[dict[str, Any]]:
    """The dashboards as committed, in file name order."""
    return [
        json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob(f"*{SUFFIX}"))
    ]
