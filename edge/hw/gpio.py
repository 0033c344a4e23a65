"""Relay, indicator and push-button inputs through gpiozero, on a pin factory chosen by config.

The factory is passed to each device rather than installed class-wide, so two agents (the demo,
the tests) can run side by side on separate mock factories.
"""

from __future__ import annotations

import importlib
import queue
import threading
from collections.abc import Callable
from typing import Any

from gpiozero import LED, Button, Buzzer, DigitalInputDevice, OutputDevice

from edge.config import GpioConfig
from edge.errors import ConfigError
from edge.hw.ports import Indicator, Signal

_FACTORIES = {
    "lgpio": ("gpiozero.pins.lgpio", "LGPIOFactory"),
    "rpigpio": ("gpiozero.pins.rpigpio", "RPiGPIOFactory"),
    "pigpio": ("gpiozero.pins.pigpio", "PiGPIOFactory"),
    "native": ("gpiozero.pins.native", "NativeFactory"),
    "mock": ("gpiozero.pins.mock", "MockFactory"),
}


def make_pin_factory(name: str | None) -> Any:
    """The named gpiozero pin factory, or None to let gpiozero pick (lgpio first)."""
    if name is None:
        return None
    module_name, class_name = _FACTORIES[name]
    try:
        return getattr(importlib.import_module(module_name), class_name)()
    except (ImportError, OSError, RuntimeError) as exc:
        raise ConfigError(f"gpio pin factory {name!r} is not usable here: {exc}") from exc


class GpioPowerSwitch:
    """The relay or contactor coil; off at construction, on close and at exit.

    `initial_value=False` sets the level as the line is claimed, so the machine never sees a
    glitch of power while the agent starts.
    """

    def __init__(self, pin: int | str, *, active_high: bool, pin_factory: Any = None) -> None:
        self._device = OutputDevice(
            pin, active_high=active_high, initial_value=False, pin_factory=pin_factory
        )

    @property
    def is_on(self) -> bool:
        return bool(self._device.is_active)

    def on(self) -> None:
        self._device.on()

    def off(self) -> None:
        self._device.off()

    def close(self) -> None:
        self._device.off()
        self._device.close()


# (led pattern, beeps): the LED says the state, the buzzer marks the moment.
_PATTERNS: dict[Signal, tuple[str, int]] = {
    Signal.READY: ("off", 0),
    Signal.GRANTED: ("on", 1),
    Signal.IN_SESSION: ("on", 0),
    Signal.DENIED: ("fast", 3),
    Signal.ENDED: ("off", 2),
    Signal.DRAINING: ("slow", 0),
    Signal.LOCKED: ("slow", 0),
}


class GpioIndicator:
    """An LED and a buzzer, both optional."""

    def __init__(
        self, led_pin: int | str | None, buzzer_pin: int | str | None, pin_factory: Any = None
    ) -> None:
        self._led = None if led_pin is None else LED(led_pin, pin_factory=pin_factory)
        self._buzzer = None if buzzer_pin is None else Buzzer(buzzer_pin, pin_factory=pin_factory)

    def show(self, signal: Signal) -> None:
        pattern, beeps = _PATTERNS[signal]
        if self._led is not None:
            self._set_led(pattern)
        if self._buzzer is not None and beeps:
            self._buzzer.beep(on_time=0.08, off_time=0.08, n=beeps, background=True)

    def _set_led(self, pattern: str) -> None:
        assert self._led is not None
        if pattern == "on":
            self._led.on()
        elif pattern == "off":
            self._led.off()
        else:
            period = 0.1 if pattern == "fast" else 0.5
            self._led.blink(on_time=period, off_time=period, n=None, background=True)

    def close(self) -> None:
        for device in (self._led, self._buzzer):
            if device is not None:
                device.close()


class GpioInputs:
    """The logout button and the optional machine-busy input, delivered as callbacks."""

    def __init__(
        self,
        config: GpioConfig,
        *,
        on_logout: Callable[[], None],
        on_job_change: Callable[[bool], None],
        pin_factory: Any = None,
    ) -> None:
        self._button = None
        self._job = None
        if config.logout_pin is not None:
            self._button = Button(config.logout_pin, bounce_time=0.05, pin_factory=pin_factory)
            self._button.when_pressed = on_logout
        if config.job_running_pin is not None:
            self._job = DigitalInputDevice(
                config.job_running_pin,
                # Driven by the machine, not floating: no pull, polarity from config.
                pull_up=None,
                active_state=config.job_running_active_high,
                pin_factory=pin_factory,
            )
            self._job.when_activated = lambda: on_job_change(True)
            self._job.when_deactivated = lambda: on_job_change(False)

    @property
    def has_job_input(self) -> bool:
        return self._job is not None

    @property
    def job_running(self) -> bool:
        return self._job is not None and bool(self._job.is_active)

    def close(self) -> None:
        for device in (self._button, self._job):
            if device is not None:
                device.close()


class BackgroundIndicator:
    """Shows signals from a thread of its own.

    gpiozero starts and joins a thread for every blink and beep; done on the agent's main loop,
    that waited for the interpreter lock on the way to the next badge's relay.
    """

    def __init__(self, inner: Indicator) -> None:
        self._inner = inner
        self._queue: queue.SimpleQueue[Signal | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="indicator", daemon=True)
        self._thread.start()

    def show(self, signal: Signal) -> None:
        self._queue.put(signal)

    def _run(self) -> None:
        while (signal := self._queue.get()) is not None:
            self._inner.show(signal)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(2)
        self._inner.close()


def build(config: GpioConfig) -> tuple[Any, GpioPowerSwitch, BackgroundIndicator]:
    """The pin factory, the power switch (off) and the indicator, in that order."""
    factory = make_pin_factory(config.pin_factory)
    power = GpioPowerSwitch(
        config.relay_pin, active_high=config.relay_active_high, pin_factory=factory
    )
    indicator = GpioIndicator(config.led_pin, config.buzzer_pin, pin_factory=factory)
    return factory, power, BackgroundIndicator(indicator)
