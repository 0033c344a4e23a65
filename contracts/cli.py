"""Command line for the wire contract: write the JSON Schemas and make signing keys.

Mounted as `machinerie contracts`; the schema command is what regenerates contracts/schema/
after a model changes, and `--check` is what CI runs to catch a forgotten regeneration.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from contracts import schema as schemas
from contracts.signing import KeyPair

app = typer.Typer(
    help="The wire contract: JSON Schemas for third-party devices, Ed25519 signing keys.",
    no_args_is_help=True,
)

# Same rule as SignedEnvelope.key_id, checked here so a bad id fails at creation, not on a device.
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


@app.command()
def schema(
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the <name>.schema.json files.")
    ] = schemas.SCHEMA_DIR,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; fail if the folder is out of date.")
    ] = False,
) -> None:
    """Write one JSON Schema per payload (or check them) and list the files."""
    if check:
        stale = schemas.drift(out)
        for name in stale:
            typer.echo(f"out of date: {out / name}", err=True)
        if stale:
            typer.echo("run `machinerie contracts schema` and commit the result", err=True)
            raise typer.Exit(1)
        typer.echo(f"{out}: up to date")
        return
    for path in schemas.export(out):
        typer.echo(str(path))


@app.command()
def keygen(
    key_id: Annotated[
        str, typer.Option("--key-id", help="Name devices use to pick the public key.")
    ],
) -> None:
    """Print a new Ed25519 key pair: the private key for the hub, the public key for devices."""
    if not _KEY_ID.fullmatch(key_id):
        raise typer.BadParameter("use 1 to 64 of A-Z a-z 0-9 . _ -", param_hint="--key-id")
    keys = KeyPair.generate(key_id)
    typer.echo(f"key_id: {keys.key_id}")
    typer.echo(f"private: {keys.private_base64()}")
    typer.echo(f"public: {keys.public_base64()}")
    # On stderr so `keygen > file` captures only the keys.
    typer.echo("Private key: hub only. Devices get the key id and public key.", err=True)
