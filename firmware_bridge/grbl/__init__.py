"""GRBL 1.1 (CNC mills, diode and CO2 lasers), with grblHAL and FluidNC read leniently.

`parse` turns one line from the controller into a value, `machine` folds those values into
`ControllerView`s (spindle-on or laser-firing time, jobs, alarms), `link` follows a real port
by polling `?`, and `sim` is a controller on a pseudo-terminal for tests and demonstrations.
"""
