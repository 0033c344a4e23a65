"""The hub's command sender against a real Mosquitto that goes away and comes back."""

from __future__ import annotations

from contracts.models import CommandAction
from hub.commands import CommandSender
from hub.mqtt import BrokerLogin
from machinerie.ackhub import wait_until
from machinerie.servers import Mosquitto
from tests.hub_maintenance.conftest import LASER_DEVICE, SITE, Commands


def _login(broker: Mosquitto) -> BrokerLogin:
    return BrokerLogin(host="127.0.0.1", port=broker.port, username="hub", password="")


def test_a_command_is_confirmed_once_the_broker_has_it(
    mosquitto: Mosquitto, commands: Commands
) -> None:
    with CommandSender(_login(mosquitto)) as sender:
        assert sender.wait_connected(10)
        command_id = sender.send(SITE, LASER_DEVICE, CommandAction.LOCK, "lens", "maintenance")
        assert sender.wait(command_id, 10)
        assert sender.confirmed(command_id)
        assert commands.wait_for(LASER_DEVICE, ["lock"])
        [(_, command)] = commands.received
        assert (command.command_id, command.reason, command.issued_by) == (
            command_id,
            "lens",
            "maintenance",
        )


def test_a_command_sent_while_the_broker_is_down_goes_out_on_reconnect(
    mosquitto: Mosquitto,
) -> None:
    with CommandSender(_login(mosquitto)) as sender:
        assert sender.wait_connected(10)
        reconnected: list[int] = []
        sender.on_connect(lambda: reconnected.append(sender.connections))
        mosquitto.stop()
        assert wait_until(lambda: not sender.connected, 10)
        command_id = sender.send(SITE, LASER_DEVICE, CommandAction.UNLOCK, "maintenance done")
        assert not sender.confirmed(command_id)
        mosquitto.start()
        assert sender.wait_connected(40)
        assert wait_until(lambda: sender.confirmed(command_id), 10)
        assert reconnected == [2]
