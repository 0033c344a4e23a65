"""Command line for the dashboards: write (or check) the committed JSON, push to a Grafana.

Mounted as `machinerie dashboards`; `export --check` is what CI runs to catch a dashboard
changed in code but not regenerated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dashboards import export as exports
from dashboards.errors import DashboardsError
from dashboards.grafana import FOLDER_TITLE
from dashboards.push import Credentials, Influx, push

app = typer.Typer(
    help="Grafana dashboards: export the JSON files, push them to a Grafana.",
    no_args_is_help=True,
)


@app.command()
def export(
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the <uid>.json files.")
    ] = exports.JSON_DIR,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; fail if the folder is out of date.")
    ] = False,
) -> None:
    """Write one JSON file per dashboard (or check them) and list the files."""
    try:
        if check:
            _check(out)
            return
        for path in exports.export(out):
            typer.echo(str(path))
    except DashboardsError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error


def _check(out: Path) -> None:
    stale = exports.drift(out)
    for name in stale:
        typer.echo(f"out of date: {out / name}", err=True)
    if stale:
        typer.echo("run `machinerie dashboards export` and commit the result", err=True)
        raise typer.Exit(1)
    typer.echo(f"{out}: up to date")


@app.command("push")
def push_command(
    url: Annotated[str, typer.Option("--url", help="Grafana, e.g. http://grafana:3000.")],
    token: Annotated[
        str, typer.Option("--token", envvar="GRAFANA_TOKEN", help="A service account token.")
    ] = "",
    user: Annotated[str, typer.Option("--user", help="Or a user with the Editor role...")] = "",
    password: Annotated[
        str, typer.Option("--password", envvar="GRAFANA_PASSWORD", help="...and its password.")
    ] = "",
    folder: Annotated[str, typer.Option("--folder", help="Title of the folder.")] = FOLDER_TITLE,
    source: Annotated[
        Path, typer.Option("--from", help="Folder of the dashboards' JSON files.")
    ] = exports.JSON_DIR,
) -> None:
    """Create the folder and the InfluxDB datasource when missing, then upsert each dashboard.

    The datasource created points at $MACHINERIE_INFLUXDB_URL / $MACHINERIE_INFLUXDB_DATABASE
    (default http://127.0.0.1:8086, machinerie); an existing one is left unchanged.
    """
    if not token and not (user and password):
        raise typer.BadParameter("give --token, or --user and --password", param_hint="--token")
    try:
        boards = exports.load(source)
    except (OSError, ValueError) as error:
        typer.echo(f"error: cannot read the dashboards in {source}: {error}", err=True)
        raise typer.Exit(1) from error
    if not boards:
        typer.echo(f"error: no dashboard in {source}", err=True)
        raise typer.Exit(1)
    try:
        pushed = push(
            url,
            Credentials(token, user, password),
            boards,
            folder_title=folder,
            influx=Influx.from_env(),
        )
    except DashboardsError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"folder {folder}: {'created' if pushed.folder_created else 'present'}")
    typer.echo(f"datasource: {'created' if pushed.datasource_created else 'present, unchanged'}")
    for uid in pushed.dashboards:
        typer.echo(f"dashboard {uid}: pushed")
