"""The device health page's words (French, English) and its menu entry; pure data, so i18n and
the menu read them without importing the page."""

from __future__ import annotations

FR: dict[str, str] = {
    "nav.devices": "Boîtiers",
    "devices.title": "État des boîtiers",
    "devices.counts": (
        "En ligne : {online} · hors ligne : {offline} · muets : {silent} · jamais vus : {never}"
    ),
    "devices.not_watching": (
        "Le hub ne suit pas l'état des boîtiers ([devices] watch = false) : "
        "les informations ci-dessous peuvent être anciennes."
    ),
    "devices.device": "Boîtier",
    "devices.reach": "Connexion",
    "devices.reach.online": "En ligne",
    "devices.reach.offline": "Hors ligne",
    "devices.reach.silent": "Muet",
    "devices.reach.never": "Jamais vu",
    "devices.last_seen": "Dernier signe de vie",
    "devices.backlog": "En attente d'envoi",
    "devices.backlog_value": "{count} événement(s)",
    "devices.acl": "Liste d'accès",
    "devices.acl_version": "version {version}",
    "devices.acl_behind": "pas à jour",
    "devices.acl_none": "aucune reçue",
    "devices.power": "Alimentation",
    "devices.relay_on": "machine sous tension",
    "devices.relay_off": "machine hors tension",
    "devices.version": "Logiciel du boîtier",
    "devices.firmware": "Micrologiciel de la machine",
    "devices.no_firmware": "non communiqué",
    "devices.unknown": "inconnu",
    "devices.empty": "Aucune machine n'a de boîtier enregistré.",
}

EN: dict[str, str] = {
    "nav.devices": "Devices",
    "devices.title": "Device health",
    "devices.counts": (
        "Online: {online} · offline: {offline} · silent: {silent} · never seen: {never}"
    ),
    "devices.not_watching": (
        "The hub does not follow the devices' status ([devices] watch = false): "
        "what follows may be old."
    ),
    "devices.device": "Device",
    "devices.reach": "Connection",
    "devices.reach.online": "Online",
    "devices.reach.offline": "Offline",
    "devices.reach.silent": "Silent",
    "devices.reach.never": "Never seen",
    "devices.last_seen": "Last seen",
    "devices.backlog": "Waiting to be sent",
    "devices.backlog_value": "{count} event(s)",
    "devices.acl": "Access list",
    "devices.acl_version": "version {version}",
    "devices.acl_behind": "out of date",
    "devices.acl_none": "none received",
    "devices.power": "Power",
    "devices.relay_on": "machine powered",
    "devices.relay_off": "machine unpowered",
    "devices.version": "Device software",
    "devices.firmware": "Machine firmware",
    "devices.no_firmware": "not reported",
    "devices.unknown": "unknown",
    "devices.empty": "No machine has a registered device.",
}

NAV: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("/console/devices", "nav.devices", ("manager", "maintainer")),
)
