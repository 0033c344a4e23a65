from machinerie.cli import app

app(prog_name="machinerie")
