import socket

import sqlalchemy as sa

from machinerie.servers import Mosquitto


def test_mosquitto_restarts_on_the_same_port(mosquitto: Mosquitto) -> None:
    port = mosquitto.port
    mosquitto.stop()
    mosquitto.start()
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    assert mosquitto.running


def test_postgres_gives_each_test_its_own_database(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert (
                conn.execute(sa.text("SELECT current_database()")).scalar()
                == postgres_url.rsplit("/", 1)[1]
            )
    finally:
        engine.dispose()
