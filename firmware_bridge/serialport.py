"""The only place the bridge opens a serial port.

Opening a port raises DTR, and an Arduino-class board (ATmega2560 Marlin, GRBL on an Uno)
reboots on that edge, killing a running job. Clearing HUPCL keeps DTR up when the port closes,
so the next open is no edge at all; the udev rule in docs/bridge.md does it once at plug-in,
which is the only way to spare the very first open.
"""

from __future__ import annotations

import contextlib
import termios

import serial

from firmware_bridge.errors import LinkError


def open_serial(url: str, baudrate: int, *, timeout: float = 0.1) -> serial.SerialBase:
    """Open `url` (a device path, a pty, or a pyserial URL such as `socket://host:port`)."""
    try:
        port = serial.serial_for_url(url, baudrate=baudrate, timeout=timeout, exclusive=True)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise LinkError(f"cannot open {url}: {exc}") from exc
    keep_dtr_on_close(port)
    return port


def keep_dtr_on_close(port: serial.SerialBase) -> None:
    """Clear HUPCL so closing the port does not drop DTR (and reset the board next time)."""
    fileno = getattr(port, "fileno", None)
    if fileno is None:
        return  # socket:// and loop:// have no modem lines
    with contextlib.suppress(OSError, termios.error, ValueError, AttributeError):
        fd = fileno()
        attrs = termios.tcgetattr(fd)
        attrs[2] &= ~termios.HUPCL
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
