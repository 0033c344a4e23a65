"""The `machinerie` command and what the packages share to run locally (demo, tests, benches)."""
