"""machinerie.servers.InfluxDB: the real InfluxDB 1.x the dashboard queries run against."""

from __future__ import annotations

import pytest

from machinerie.servers import InfluxDB, ServerError


def test_written_lines_read_back_with_influxql(influxdb: InfluxDB) -> None:
    influxdb.create_database("shop")
    influxdb.write(["machine,machine_id=laser-1 power_w=1800.0 1796641200000"], "shop")
    answer = influxdb.query('SELECT "power_w" FROM "machine"', "shop")
    (series,) = answer["results"][0]["series"]
    assert series["columns"] == ["time", "power_w"]
    assert series["values"] == [[1796641200000, 1800]]


def test_a_refused_line_raises_with_influxdb_s_reason_and_keeps_the_others(
    influxdb: InfluxDB,
) -> None:
    influxdb.create_database("shop")
    with pytest.raises(ServerError, match="unable to parse 'not line protocol'"):
        influxdb.write(["machine power_w=1.0 1000", "not line protocol"], "shop")
    answer = influxdb.query('SELECT count("power_w") FROM "machine"', "shop")
    assert answer["results"][0]["series"][0]["values"][0][1] == 1


def test_a_refused_query_raises_with_influxdb_s_reason(influxdb: InfluxDB) -> None:
    with pytest.raises(ServerError, match="error parsing query"):
        influxdb.query("SELEC 1", "shop")


def test_stop_ends_the_server_and_cleanup_removes_its_folder() -> None:
    server = InfluxDB().start()
    assert server.running
    server.cleanup()
    assert not server.running
    assert not server.folder.exists()
