"""The words of an alert e-mail, for every counter, level and language."""

from __future__ import annotations

import pytest

from contracts.models import AlertCounter, AlertLevel
from hub.notify.settings import Language
from hub.notify.text import body, subject
from tests.hub_notify.conftest import make_alert


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("counter", list(AlertCounter))
@pytest.mark.parametrize("level", list(AlertLevel))
def test_every_alert_reads_in_both_languages(
    language: Language, counter: AlertCounter, level: AlertLevel
) -> None:
    alert = make_alert(counter=counter, level=level, value=12, threshold=10.25)
    assert subject(alert, language).startswith("[Machinerie] ")
    text = body(alert, language)
    mark = "," if language == "fr" else "."
    assert "12 " in text and f"10{mark}25 " in text
    assert "{" not in text  # every placeholder filled


def test_french_puts_a_space_before_the_colon() -> None:
    alert = make_alert(counter=AlertCounter.ENERGY_KWH, value=1203.456, threshold=1200)
    assert "Compteur : énergie consommée, 1203,46 kWh pour un seuil de 1200 kWh" in body(
        alert, "fr"
    )
