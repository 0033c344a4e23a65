"""The console's words in French (the default) and English, and the choice between them.

A plain dict of message ids per language; templates call `t("login.submit")`. The language
comes from the `lang` cookie the footer's switch sets, else from Accept-Language, else French.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from hub.console import (
    me,
    text_billing,
    text_devices,
    text_maintenance,
    text_registry,
    text_usage,
)

DEFAULT = "fr"
LANGUAGES = ("fr", "en")
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}

Translate = Callable[..., str]

FR: dict[str, str] = {
    "app.name": "Machinerie",
    "skip": "Aller au contenu",
    "nav.label": "Navigation principale",
    "nav.live": "Machines",
    "nav.audit": "Journal d'audit",
    "nav.me": "Mon espace",
    "nav.logout": "Se déconnecter",
    "nav.signed_in": "Connecté·e : {username} ({role})",
    "footer.language": "Langue",
    "login.title": "Connexion",
    "login.username": "Nom d'utilisateur",
    "login.password": "Mot de passe",
    "login.submit": "Se connecter",
    "login.failed": "Nom d'utilisateur ou mot de passe incorrect.",
    "login.limited": "Trop de tentatives échouées. Réessayez dans {seconds} secondes.",
    "login.missing": "Indiquez un nom d'utilisateur et un mot de passe.",
    "forbidden.title": "Accès refusé",
    "forbidden.body": "Votre rôle ({role}) ne permet pas d'ouvrir cette page.",
    "forbidden.home": "Retour à ma page d'accueil",
    "csrf.title": "Formulaire refusé",
    "csrf.body": (
        "Ce formulaire a expiré ou ne vient pas de cette console. Rechargez la page et recommencez."
    ),
    "live.title": "Machines en direct",
    "live.machine": "Machine",
    "live.kind": "Type",
    "live.holder": "Utilisée par",
    "live.since": "depuis {time}",
    "live.free": "Libre",
    "live.job": "Travail en cours",
    "live.no_job": "Aucun",
    "live.state": "État",
    "live.locked": "Verrouillée",
    "live.available": "Disponible",
    "live.last_event": "Dernier événement",
    "live.never": "jamais",
    "live.alerts": "Alertes de maintenance ouvertes : {count}",
    "live.machine_alerts": "{count} alerte(s)",
    "live.empty": "Aucune machine n'est enregistrée.",
    "live.progress": "Avancement de {name}",
    "live.percent": "{value} %",
    "live.controller": "Contrôleur",
    "machine_state.offline": "Hors ligne",
    "machine_state.idle": "À l'arrêt",
    "machine_state.running": "En marche",
    "machine_state.paused": "En pause",
    "machine_state.alarm": "Alarme",
    "live.refresh": "Mis à jour à {time} ; la page se rafraîchit toutes les 10 secondes.",
    "kind.cnc_mill": "Fraiseuse CNC",
    "kind.laser_cutter": "Découpe laser",
    "kind.printer_3d": "Imprimante 3D",
    "kind.other": "Autre",
    "audit.title": "Journal d'audit",
    "audit.at": "Quand",
    "audit.who": "Qui",
    "audit.role": "Rôle",
    "audit.action": "Action",
    "audit.target": "Objet",
    "audit.detail": "Détail",
    "audit.empty": "Aucune action enregistrée.",
    "action.login": "Connexion",
    "action.logout": "Déconnexion",
    "role.manager": "gestionnaire",
    "role.accountant": "comptable",
    "role.maintainer": "maintenance",
    "role.member": "membre",
    "me.title": "Mon espace",
    "me.staff_note": (
        "Cette page montre l'usage d'un membre ; votre compte ({role}) n'est lié à aucun membre."
    ),
}

EN: dict[str, str] = {
    "app.name": "Machinerie",
    "skip": "Skip to content",
    "nav.label": "Main navigation",
    "nav.live": "Machines",
    "nav.audit": "Audit log",
    "nav.me": "My space",
    "nav.logout": "Log out",
    "nav.signed_in": "Signed in: {username} ({role})",
    "footer.language": "Language",
    "login.title": "Log in",
    "login.username": "Username",
    "login.password": "Password",
    "login.submit": "Log in",
    "login.failed": "Wrong username or password.",
    "login.limited": "Too many failed attempts. Try again in {seconds} seconds.",
    "login.missing": "Enter a username and a password.",
    "forbidden.title": "Access denied",
    "forbidden.body": "Your role ({role}) may not open this page.",
    "forbidden.home": "Back to my home page",
    "csrf.title": "Form refused",
    "csrf.body": (
        "This form has expired or did not come from this console. Reload the page and try again."
    ),
    "live.title": "Live machines",
    "live.machine": "Machine",
    "live.kind": "Kind",
    "live.holder": "Used by",
    "live.since": "since {time}",
    "live.free": "Free",
    "live.job": "Job running",
    "live.no_job": "None",
    "live.state": "State",
    "live.locked": "Locked",
    "live.available": "Available",
    "live.last_event": "Last event",
    "live.never": "never",
    "live.alerts": "Open maintenance alerts: {count}",
    "live.machine_alerts": "{count} alert(s)",
    "live.empty": "No machine is registered.",
    "live.progress": "Progress of {name}",
    "live.percent": "{value}%",
    "live.controller": "Controller",
    "machine_state.offline": "Offline",
    "machine_state.idle": "Idle",
    "machine_state.running": "Running",
    "machine_state.paused": "Paused",
    "machine_state.alarm": "Alarm",
    "live.refresh": "Updated at {time}; the page refreshes every 10 seconds.",
    "kind.cnc_mill": "CNC mill",
    "kind.laser_cutter": "Laser cutter",
    "kind.printer_3d": "3D printer",
    "kind.other": "Other",
    "audit.title": "Audit log",
    "audit.at": "When",
    "audit.who": "Who",
    "audit.role": "Role",
    "audit.action": "Action",
    "audit.target": "Target",
    "audit.detail": "Detail",
    "audit.empty": "No action recorded.",
    "action.login": "Log in",
    "action.logout": "Log out",
    "role.manager": "manager",
    "role.accountant": "accountant",
    "role.maintainer": "maintainer",
    "role.member": "member",
    "me.title": "My space",
    "me.staff_note": (
        "This page shows a member's usage; your account ({role}) is not linked to a member."
    ),
}

# Each page keeps its words beside it: the self-service page in hub/console/me.py, the others
# in hub/console/text_<section>.py.
_PAGES = (me, text_registry, text_billing, text_maintenance, text_usage, text_devices)
MESSAGES: dict[str, dict[str, str]] = {
    "fr": FR | {k: v for page in _PAGES for k, v in page.FR.items()},
    "en": EN | {k: v for page in _PAGES for k, v in page.EN.items()},
}
TIME_FORMATS = {"fr": "%d/%m/%Y %H:%M", "en": "%Y-%m-%d %H:%M"}


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The page's language: the cookie if it names one we speak, else the browser's best."""
    if cookie in MESSAGES:
        return cookie
    for tag in _ranked(accept_language or ""):
        primary = tag.split("-")[0]
        if primary in MESSAGES:
            return primary
    return DEFAULT


def _ranked(header: str) -> list[str]:
    """Accept-Language tags, best first (`fr-BE,fr;q=0.9,en;q=0.8` → fr-be, fr, en)."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            weighted.append((-quality, position, tag.strip().lower()))
    return [tag for _, _, tag in sorted(weighted)]


def translator(lang: str) -> Translate:
    """`t(message_id, **values)` in `lang`; an unknown id shows itself rather than failing."""
    messages = MESSAGES.get(lang, MESSAGES[DEFAULT])

    def t(message_id: str, **values: object) -> str:
        text = messages.get(message_id) or MESSAGES[DEFAULT].get(message_id, message_id)
        return text.format(**values) if values else text

    return t


def when(moment: datetime | None, lang: str, timezone: str) -> str:
    """A moment as people in the workshop read it: local time of the site."""
    if moment is None:
        return ""
    local = moment.astimezone(ZoneInfo(timezone))
    return local.strftime(TIME_FORMATS.get(lang, TIME_FORMATS[DEFAULT]))
