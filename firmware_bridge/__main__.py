"""`python -m firmware_bridge`: the bridge's commands without the rest of the project."""

from firmware_bridge.cli import app

app(prog_name="machinerie bridge")
