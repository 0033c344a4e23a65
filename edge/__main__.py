"""`python -m edge run --config FILE`: the agent alone, without the other packages' commands.

systemd starts it this way so the Pi loads only what the agent needs.
"""

from edge.cli import app

app(prog_name="python -m edge")
