"""Prusa printers through PrusaLink: `/api/v1/status` and `/api/v1/job` polled with Digest auth.

`parse` reads the JSON documents and the Digest headers, `machine` folds them into
`ControllerView`s, `link` polls a printer (`PrusaLinkLink`), `sim` serves a simulated one.
"""
