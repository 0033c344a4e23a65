"""The words of an alert e-mail, in French (the workshops' language) or English; pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from contracts.models import Alert, AlertCounter, AlertLevel
from hub.notify.settings import Language


@dataclass(frozen=True)
class Words:
    subject_warning: str
    subject_limit: str
    level: dict[AlertLevel, str]
    machine: str
    plan: str
    counter: str
    reading: str  # "{value} of a threshold of {threshold}"
    due: str
    due_unknown: str
    raised: str
    todo: dict[AlertLevel, str]
    counters: dict[AlertCounter, tuple[str, str]]  # name, unit
    decimal_mark: str


FRENCH = Words(
    subject_warning="Entretien à prévoir",
    subject_limit="Entretien dépassé",
    level={AlertLevel.WARNING: "avertissement", AlertLevel.LIMIT: "limite atteinte"},
    machine="Machine",
    plan="Plan d'entretien",
    counter="Compteur",
    reading="{value} pour un seuil de {threshold}",
    due="Limite prévue",
    due_unknown="inconnue (pas d'utilisation récente)",
    raised="Alerte émise",
    todo={
        AlertLevel.WARNING: (
            "Planifiez l'intervention avant que la limite soit atteinte, puis enregistrez-la "
            "dans Machinerie : le compteur repart alors de zéro."
        ),
        AlertLevel.LIMIT: (
            "La machine est verrouillée pour tous sauf les responsables de l'entretien, "
            "jusqu'à ce que l'intervention soit enregistrée dans Machinerie."
        ),
    },
    counters={
        AlertCounter.BUSY_HOURS: ("heures de fonctionnement", "h"),
        AlertCounter.BADGE_HOURS: ("heures d'utilisation badgées", "h"),
        AlertCounter.ENERGY_KWH: ("énergie consommée", "kWh"),
        AlertCounter.JOBS: ("travaux", "travaux"),
        AlertCounter.DAYS: ("jours écoulés", "jours"),
    },
    decimal_mark=",",
)

ENGLISH = Words(
    subject_warning="Maintenance due soon",
    subject_limit="Maintenance overdue",
    level={AlertLevel.WARNING: "warning", AlertLevel.LIMIT: "limit reached"},
    machine="Machine",
    plan="Maintenance plan",
    counter="Counter",
    reading="{value} against a threshold of {threshold}",
    due="Limit forecast",
    due_unknown="unknown (no recent use)",
    raised="Alert raised",
    todo={
        AlertLevel.WARNING: (
            "Plan the intervention before the limit is reached, then log it in Machinerie: "
            "the counter then starts again from zero."
        ),
        AlertLevel.LIMIT: (
            "The machine is locked for everyone but its maintainers until the intervention "
            "is logged in Machinerie."
        ),
    },
    counters={
        AlertCounter.BUSY_HOURS: ("busy hours", "h"),
        AlertCounter.BADGE_HOURS: ("badged hours", "h"),
        AlertCounter.ENERGY_KWH: ("energy used", "kWh"),
        AlertCounter.JOBS: ("jobs", "jobs"),
        AlertCounter.DAYS: ("days elapsed", "days"),
    },
    decimal_mark=".",
)

WORDS: dict[Language, Words] = {"fr": FRENCH, "en": ENGLISH}


def subject(alert: Alert, language: Language) -> str:
    words = WORDS[language]
    what = words.subject_limit if alert.level is AlertLevel.LIMIT else words.subject_warning
    separator = " : " if language == "fr" else ": "  # French puts a space before a colon
    return (
        f"[Machinerie] {what}{separator}{alert.machine_id} — {alert.plan}"
        f" ({words.level[alert.level]})"
    )


def body(alert: Alert, language: Language, timezone: str | None = None) -> str:
    """The mail's text; times in the site's `timezone` when the hub knows it, else UTC."""
    words = WORDS[language]
    colon = " : " if language == "fr" else ": "
    name, unit = words.counters[alert.counter]
    reading = words.reading.format(
        value=f"{_number(alert.value, words)} {unit}",
        threshold=f"{_number(alert.threshold, words)} {unit}",
    )
    due = _moment(alert.due_at, timezone) if alert.due_at is not None else words.due_unknown
    lines = [
        f"{words.machine}{colon}{alert.machine_id} ({alert.site})",
        f"{words.plan}{colon}{alert.plan}",
        f"{words.counter}{colon}{name}, {reading}",
        f"{words.due}{colon}{due}",
        f"{words.raised}{colon}{_moment(alert.raised_at, timezone)}",
        "",
        words.todo[alert.level],
    ]
    if alert.message:
        lines += ["", alert.message]
    return "\n".join(lines) + "\n"


def _number(value: float, words: Words) -> str:
    # Counters are read by people: two decimals at most, no trailing zeros, the local mark.
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text.replace(".", words.decimal_mark)


def _moment(at: datetime, timezone: str | None) -> str:
    """`2026-11-23 14:43 (Europe/Brussels)`: the workshop's clock, named, so a reader abroad
    is not misled; UTC when the site's zone is unknown (a machine removed since)."""
    if timezone is None:
        return at.strftime("%Y-%m-%d %H:%M UTC")
    return f"{at.astimezone(ZoneInfo(timezone)):%Y-%m-%d %H:%M} ({timezone})"
