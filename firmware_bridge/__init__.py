"""Firmware bridge: reads the machine's own controller (Marlin, GRBL, Klipper, power meters).

Not built yet: it reports real machine-hours, job start and end to the edge and the hub.
"""
