"""The official Peppol BIS Billing 3.0 business rules, run on the UBL the hub issues.

Two rule sets, both OpenPeppol's compiled Schematron (XSLT 2, release `RULES_VERSION`, vendored in
`peppol_rules/`): the CEN EN 16931 rules for UBL, then the Peppol BIS rules. They need an XSLT 2
processor; SaxonC-HE (`saxonche`) runs them in-process, without a JVM. Each produces an SVRL
report; every failed assert is a `Finding`, and a `fatal` one is a rejection.

Cost, measured on a 2-core x86 server: compiling both stylesheets takes about 0.7 s (0.5 to
1.5 s depending on the machine), so it happens once per process, on first use or at `warm()`.
Checking one monthly invoice then takes about 10 ms (20 ms for the very first one).

Saxon gets no network or file access while checking: external URLs, entities and `doc()` calls
are refused, so a document cannot make the validator fetch anything. One processor serves the
whole process; a lock serialises compiling and checking, so threads can share it.

The rules do not check the UBL element order; the XSD does, and the tests hold the writer to it.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lxml import etree
from saxonche import PySaxonApiError, PySaxonProcessor

from hub.billing.document import Document
from hub.errors import HubError, Invalid

RULES_VERSION = "2026.5"
RULES_DIR = Path(__file__).with_name("peppol_rules")
# CEN first: its findings explain most Peppol ones, so they read better in that order.
STYLESHEETS = ("CEN-EN16931-UBL.xslt", "PEPPOL-EN16931-UBL.xslt")

SVRL = "http://purl.oclc.org/dsdl/svrl"
# Saxon's own switch: the URI schemes a stylesheet or document may open; none at all.
_ALLOWED_PROTOCOLS = "http://saxon.sf.net/feature/allowedProtocols"

# Rules that speak for the Peppol network only. A document that never travels on it, such as an
# invoice to a private person addressed by e-mail (EAS `EM`, which EN 16931 accepts and the
# Peppol code list no longer does), breaks them and is still a valid EN 16931 invoice.
OFF_NETWORK = frozenset({"PEPPOL-EN16931-CL008"})
# Electronic address schemes of buyers who are reached outside Peppol.
OFF_NETWORK_SCHEMES = frozenset({"EM"})

Flag = Literal["fatal", "warning"]


@dataclass(frozen=True)
class Finding:
    """One failed rule: its identifier (`BR-CO-16`), flag, XPath location and message."""

    rule: str
    flag: Flag
    location: str
    text: str

    def __str__(self) -> str:
        return f"{self.flag} {self.rule} at {self.location}: {self.text}"


def fatal(findings: Iterable[Finding], *, waive: Collection[str] = frozenset()) -> list[Finding]:
    """The findings that reject the document, less the rules in `waive`."""
    return [f for f in findings if f.flag == "fatal" and f.rule not in waive]


def not_applicable(doc: Document) -> frozenset[str]:
    """The rules that do not bind `doc`, for `fatal(waive=)`: the Peppol network's own rules
    when the buyer is reached outside it, none otherwise."""
    return OFF_NETWORK if doc.buyer.endpoint_scheme in OFF_NETWORK_SCHEMES else frozenset()


class PeppolRules:
    """Both rule sets, compiled once on first use and shared by every thread."""

    def __init__(self, directory: Path = RULES_DIR) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._processor: Any = None
        self._stylesheets: list[Any] = []

    def warm(self) -> None:
        """Compile now rather than on the first check (at start-up, say)."""
        with self._lock:
            self._compile()

    def check(self, xml: bytes) -> list[Finding]:
        """Every finding of the CEN rules, then of the Peppol rules, for one UBL document.

        Raises `Invalid` if `xml` is not a well-formed UTF-8 XML document.
        """
        try:
            text = xml.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Invalid("a Peppol document is UTF-8") from exc
        with self._lock:
            self._compile()
            try:
                node = self._processor.parse_xml(xml_text=text)
            except PySaxonApiError as exc:
                raise Invalid(f"not a readable XML document: {exc}") from exc
            reports = [sheet.transform_to_string(xdm_node=node) for sheet in self._stylesheets]
        return [finding for report in reports for finding in _findings(report)]

    def _compile(self) -> None:
        if self._stylesheets:
            return
        try:
            # Read here and compiled from text: Saxon itself never needs to open a file.
            texts = [(self._directory / name).read_text(encoding="utf-8") for name in STYLESHEETS]
            processor = PySaxonProcessor(license=False)
            processor.set_configuration_property(_ALLOWED_PROTOCOLS, "")
            compiler = processor.new_xslt30_processor()
            sheets = [compiler.compile_stylesheet(stylesheet_text=text) for text in texts]
        except (OSError, PySaxonApiError) as exc:
            # A broken installation, not a bad document: no caller can fix it by retrying.
            raise HubError(f"Peppol rules in {self._directory} unusable: {exc}") from exc
        self._processor, self._stylesheets = processor, sheets


def _findings(report: str) -> list[Finding]:
    """The failed asserts (and any flagged reports) of one SVRL document."""
    root = etree.fromstring(report.encode("utf-8"))
    # An assert without a known flag counts as fatal: when in doubt, do not issue.
    return [
        Finding(
            rule=node.get("id", ""),
            flag="warning" if node.get("flag") == "warning" else "fatal",
            location=node.get("location", ""),
            text=" ".join(node.findtext(f"{{{SVRL}}}text", "").split()),
        )
        for node in root.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report")
    ]


_RULES = PeppolRules()


def rules() -> PeppolRules:
    """The process-wide rules: compiled once, on first use."""
    return _RULES
