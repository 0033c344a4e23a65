"""PZEM-004T v3 energy monitor: Modbus RTU over a 9600 8N1 TTL serial port.

`frames` builds and decodes the frames (pure), `link` polls a module through `open_serial`,
`sim` is a Modbus slave served on a pty. The register map is the PZEM-004T v3.0 user
manual's; the PZEM-016 (RS-485) uses the same map and frames.
"""
