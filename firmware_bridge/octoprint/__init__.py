"""Printers driven by OctoPrint, followed through its REST API (`/api/job`, `/api/printer`).

OctoPrint owns the printer's serial port, so the bridge observes it over HTTP with the
instance's API key. `parse` reads the JSON documents, `machine` folds them into
`ControllerView`s, `link` polls an instance (`OctoPrintLink`), `sim` serves a simulated one.
"""
