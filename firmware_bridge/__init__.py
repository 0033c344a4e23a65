"""Firmware bridge: reads the machine's own controller (Marlin, GRBL, Klipper through
Moonraker, PrusaLink) and power meters (PZEM-004T, Shelly) for real machine-hours, job start
and end, alarms, temperatures and energy, and holds power while a job runs.

Layout: `framing` (bytes to lines), one package per protocol (`parse` pure, `machine` pure,
`link` the I/O, `sim` the simulator), `model` (the normalised state), `tracker` (busy time,
energy, jobs, interlock), `follower` (threads), `sources` (composition from `config`).
"""
