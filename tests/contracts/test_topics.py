"""Topic builders and parsers: every built topic parses back, anything off-contract is refused.

The parser is the hub's first line of defence against a device publishing outside its branch.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.errors import ContractError, InvalidTopic
from contracts.topics import (
    DEVICE_WRITES,
    HUB_WRITES,
    Kind,
    Topic,
    check_id,
    device_filter,
    parse,
    site_filter,
    topic,
)

ids = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,62}", fullmatch=True)


@pytest.mark.parametrize("kind", list(Kind))
def test_build_then_parse_round_trips(kind: Kind) -> None:
    built = topic("dony", "laser-1-pi", kind)
    assert built == f"machinerie/v1/dony/laser-1-pi/{kind.value}"
    assert parse(built) == Topic("dony", "laser-1-pi", kind)


@given(site=ids, device=ids, kind=st.sampled_from(Kind))
def test_any_valid_ids_round_trip(site: str, device: str, kind: Kind) -> None:
    assert parse(topic(site, device, kind)) == Topic(site, device, kind)


def test_custom_prefix_round_trips_and_is_required_when_parsing() -> None:
    built = topic("dony", "pi-1", Kind.ACL, prefix="coop")
    assert built == "coop/v1/dony/pi-1/acl"
    assert parse(built, prefix="coop") == Topic("dony", "pi-1", Kind.ACL, "coop")
    with pytest.raises(InvalidTopic):
        parse(built)


@pytest.mark.parametrize(
    "value",
    [
        "other/v1/dony/pi-1/event",  # wrong prefix
        "machinerie/v2/dony/pi-1/event",  # wrong version
        "machinerie/V1/dony/pi-1/event",
        "machinerie/v1/dony/pi-1/events",  # unknown kind
        "machinerie/v1/dony/pi-1/EVENT",
        "machinerie/v1/dony/pi-1/event/extra",  # too many levels
        "machinerie/v1/dony/event",  # too few
        "machinerie/v1/dony/pi-1/event/",  # trailing slash is an empty level
        "/machinerie/v1/dony/pi-1/event",
        "machinerie/v1/+/pi-1/event",  # wildcards are for filters, not topics
        "machinerie/v1/dony/#",
        "machinerie/v1/dony/+/event",
        "machinerie/v1/dony/pi+1/event",
        "machinerie/v1/Dony/pi-1/event",  # ids are lower case
        "machinerie/v1/dony/-pi/event",  # and start with a letter or digit
        "machinerie/v1//pi-1/event",
        "machinerie/v1/dony/pi 1/event",
        "machinerie/v1/dony/pi-1\n/event",
        f"machinerie/v1/dony/{'a' * 64}/event",  # 63 characters at most
        "",
    ],
)
def test_off_contract_topics_are_refused(value: str) -> None:
    with pytest.raises(InvalidTopic):
        parse(value)


@pytest.mark.parametrize("bad", ["", "Laser", "laser/1", "+", "#", "a b", "-a", "a\n", "é"])
def test_builders_refuse_ids_that_would_break_the_tree(bad: str) -> None:
    with pytest.raises(InvalidTopic):
        topic(bad, "pi-1", Kind.EVENT)
    with pytest.raises(InvalidTopic):
        topic("dony", bad, Kind.EVENT)
    with pytest.raises(InvalidTopic):
        check_id(bad, "device")


def test_invalid_topic_is_a_contract_error_and_a_value_error() -> None:
    # Callers may catch either the family or the builtin.
    with pytest.raises(ContractError):
        parse("nope")
    with pytest.raises(ValueError, match="unknown kind"):
        parse("machinerie/v1/dony/pi-1/nope")


def test_filters() -> None:
    assert site_filter(Kind.EVENT) == "machinerie/v1/+/+/event"
    assert site_filter(Kind.STATUS, site="dony") == "machinerie/v1/dony/+/status"
    with pytest.raises(InvalidTopic):
        site_filter(Kind.EVENT, site="#")
    assert device_filter("dony", "pi-1", HUB_WRITES) == [
        "machinerie/v1/dony/pi-1/ack",
        "machinerie/v1/dony/pi-1/acl",
        "machinerie/v1/dony/pi-1/command",
    ]


def test_writers_split_the_kinds_between_device_and_hub() -> None:
    assert set(Kind) == DEVICE_WRITES | HUB_WRITES | {Kind.ALERT}
    assert Kind.ALERT not in DEVICE_WRITES | HUB_WRITES  # no device subscribes to alerts
    assert not DEVICE_WRITES & HUB_WRITES
    assert {Kind.EVENT, Kind.STATUS, Kind.TELEMETRY} == DEVICE_WRITES
