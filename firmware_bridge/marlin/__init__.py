"""Marlin and Prusa (MK3-class) printers over their USB serial port.

`parse` turns firmware output into typed messages, `machine` folds them into
`ControllerView`s, `link.MarlinLink` is the `Source` that talks to the port, and
`sim.MarlinSimulator` is a virtual printer served on a pty (`sim.serve`).
"""

from firmware_bridge.marlin.link import MarlinLink
from firmware_bridge.marlin.machine import MarlinMachine
from firmware_bridge.marlin.sim import MarlinSimulator, serve

__all__ = ["MarlinLink", "MarlinMachine", "MarlinSimulator", "serve"]
