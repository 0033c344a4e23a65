"""The ACL the hub writes has exactly the rules of the shipped deploy/mosquitto/machinerie.acl."""

from __future__ import annotations

from pathlib import Path

from hub.devices.aclfile import acl_rules, render_acl

SHIPPED = Path(__file__).parents[2] / "deploy" / "mosquitto" / "machinerie.acl"
CONTRACT_DOC = Path(__file__).parents[2] / "docs" / "contract.md"


def rules_of(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def test_rules_equal_the_shipped_file() -> None:
    assert acl_rules() == rules_of(SHIPPED.read_text())


def test_rendered_file_has_the_same_rules() -> None:
    assert rules_of(render_acl()) == rules_of(SHIPPED.read_text())


def test_rules_are_those_in_the_contract_doc() -> None:
    doc = CONTRACT_DOC.read_text()
    assert all(rule in doc for rule in acl_rules())


def test_prefix_is_honoured() -> None:
    assert acl_rules("lab")[1] == "topic readwrite lab/v1/#"
    assert all(" lab/v1/" in rule for rule in acl_rules("lab")[1:])
