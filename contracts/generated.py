"""Files generated from code and committed (JSON Schemas, dashboards): write them, or tell
which ones no longer match what the code generates."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def write_all(folder: Path, files: Mapping[str, str]) -> list[Path]:
    """Write each file name's text into `folder`; return the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, text in files.items():
        path = folder / file_name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def drifted(folder: Path, files: Mapping[str, str], suffix: str) -> list[str]:
    """Names of the `*suffix` files in `folder` that are missing, stale or unknown."""
    present = {path.name for path in folder.glob(f"*{suffix}")}
    stale = [
        name
        for name, text in files.items()
        if name not in present or (folder / name).read_text(encoding="utf-8") != text
    ]
    return sorted(stale + sorted(present - files.keys()))
