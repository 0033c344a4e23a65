import socket

from machinerie.servers import Mosquitto


def test_mosquitto_restarts_on_the_same_port(mosquitto: Mosquitto) -> None:
    port = mosquitto.port
    mosquitto.stop()
    mosquitto.start()
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    assert mosquitto.running
