"""Klipper printers through Moonraker: JSON-RPC over a websocket, HTTP beside it on one port.

`parse` turns one frame into a message, `machine` folds messages into `ControllerView`s,
`link` follows a Moonraker instance (`MoonrakerLink`), `sim` serves a simulated one.
"""
