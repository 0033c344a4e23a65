"""The usage page's words (French, English) and its menu entry; pure data, so i18n and the menu
read them without importing the page."""

from __future__ import annotations

FR: dict[str, str] = {
    "nav.usage": "Utilisation",
    "usage.title": "Utilisation des machines",
    "usage.presets": "Périodes",
    "usage.preset.month": "Ce mois-ci",
    "usage.preset.last_month": "Le mois dernier",
    "usage.preset.year": "Cette année",
    "usage.preset.30d": "Les 30 derniers jours",
    "usage.choose": "Choisir la période et la machine",
    "usage.from": "Du",
    "usage.to": "Au (inclus)",
    "usage.machine": "Machine",
    "usage.all_machines": "Toutes les machines",
    "usage.show": "Afficher",
    "usage.showing": "Du {first} au {last} ({days} jours)",
    "usage.showing_machine": "Machine : {machine}",
    "usage.closed_only": (
        "Seules les sessions terminées comptent, au jour (heure locale du site) où elles ont "
        "commencé : une session en cours comptera quand elle sera terminée."
    ),
    "usage.busy_note": (
        "Les heures de travail sont celles que le contrôleur de la machine a mesurées (broche, "
        "laser, impression) ; la part de travail les compare aux heures badgées des seules "
        "sessions mesurées. « — » : non mesuré."
    ),
    "usage.totals": "Totaux de la période",
    "usage.sessions": "Sessions",
    "usage.badge_hours": "Heures badgées",
    "usage.busy_hours": "Heures de travail mesurées",
    "usage.busy_share": "Part de travail",
    "usage.energy": "Énergie mesurée",
    "usage.members": "Membres différents",
    "usage.none": "Aucune session terminée sur cette période.",
    "usage.csv": "Télécharger le tableau (CSV, par membre et machine)",
    "usage.chart.machines": "Heures par machine",
    "usage.chart.machines_desc": (
        "Barres horizontales : heures badgées et heures de travail mesurées de chaque machine."
    ),
    "usage.chart.days": "Heures par jour",
    "usage.chart.days_desc": "Colonnes : heures badgées de chaque jour de la période.",
    "usage.chart.weeks": "Heures par semaine",
    "usage.chart.weeks_desc": (
        "Colonnes : heures badgées de chaque semaine (du lundi) de la période."
    ),
    "usage.chart.organisations": "Heures par organisation",
    "usage.chart.organisations_desc": (
        "Barres horizontales : heures badgées des dix organisations les plus actives, puis de "
        "toutes les autres ensemble."
    ),
    "usage.legend": "Légende",
    "usage.series.badge": "Heures badgées",
    "usage.series.busy": "Heures de travail mesurées",
    "usage.figures": "Les chiffres en tableau",
    "usage.col.machine": "Machine",
    "usage.col.day": "Jour",
    "usage.col.week": "Semaine",
    "usage.col.organisation": "Organisation",
    "usage.col.sessions": "Sessions",
    "usage.col.badge": "Heures badgées",
    "usage.col.busy": "Heures de travail",
    "usage.col.share": "Part de travail",
    "usage.col.members": "Membres",
    "usage.week_of": "Semaine du {day}",
    "usage.private": "Particuliers",
    "usage.others": "Autres ({count})",
    "usage.error.both": "Indiquez une date de début et une date de fin.",
    "usage.error.date": "« {given} » n'est pas une date (AAAA-MM-JJ).",
    "usage.error.range": "Choisissez des dates entre les années {first} et {last}.",
    "usage.error.reversed": "La date de début doit précéder la date de fin (ou l'égaler).",
    "usage.error.too_long": "Une période couvre au plus {days} jours.",
    "usage.error.preset": "Cette période prédéfinie n'existe pas.",
    "usage.error.machine": "Cette machine n'existe pas.",
}

EN: dict[str, str] = {
    "nav.usage": "Usage",
    "usage.title": "Machine usage",
    "usage.presets": "Periods",
    "usage.preset.month": "This month",
    "usage.preset.last_month": "Last month",
    "usage.preset.year": "This year",
    "usage.preset.30d": "Last 30 days",
    "usage.choose": "Choose the period and the machine",
    "usage.from": "From",
    "usage.to": "To (included)",
    "usage.machine": "Machine",
    "usage.all_machines": "All machines",
    "usage.show": "Show",
    "usage.showing": "From {first} to {last} ({days} days)",
    "usage.showing_machine": "Machine: {machine}",
    "usage.closed_only": (
        "Only closed sessions count, on the day (the site's local time) they started: a session "
        "still open will count once it ends."
    ),
    "usage.busy_note": (
        "Busy hours are what the machine's controller measured (spindle, laser, printing); the "
        "busy share compares them with the badge hours of the measured sessions only. "
        "“—”: not measured."
    ),
    "usage.totals": "Totals of the period",
    "usage.sessions": "Sessions",
    "usage.badge_hours": "Badge hours",
    "usage.busy_hours": "Measured busy hours",
    "usage.busy_share": "Busy share",
    "usage.energy": "Measured energy",
    "usage.members": "Distinct members",
    "usage.none": "No closed session in this period.",
    "usage.csv": "Download the table (CSV, per member and machine)",
    "usage.chart.machines": "Hours per machine",
    "usage.chart.machines_desc": (
        "Horizontal bars: badge hours and measured busy hours of each machine."
    ),
    "usage.chart.days": "Hours per day",
    "usage.chart.days_desc": "Columns: badge hours of each day of the period.",
    "usage.chart.weeks": "Hours per week",
    "usage.chart.weeks_desc": "Columns: badge hours of each week (from Monday) of the period.",
    "usage.chart.organisations": "Hours per organisation",
    "usage.chart.organisations_desc": (
        "Horizontal bars: badge hours of the ten busiest organisations, then all others together."
    ),
    "usage.legend": "Legend",
    "usage.series.badge": "Badge hours",
    "usage.series.busy": "Measured busy hours",
    "usage.figures": "The figures as a table",
    "usage.col.machine": "Machine",
    "usage.col.day": "Day",
    "usage.col.week": "Week",
    "usage.col.organisation": "Organisation",
    "usage.col.sessions": "Sessions",
    "usage.col.badge": "Badge hours",
    "usage.col.busy": "Busy hours",
    "usage.col.share": "Busy share",
    "usage.col.members": "Members",
    "usage.week_of": "Week of {day}",
    "usage.private": "Private persons",
    "usage.others": "Others ({count})",
    "usage.error.both": "Give a start date and an end date.",
    "usage.error.date": "“{given}” is not a date (YYYY-MM-DD).",
    "usage.error.range": "Choose dates between the years {first} and {last}.",
    "usage.error.reversed": "The start date must be on or before the end date.",
    "usage.error.too_long": "A period covers at most {days} days.",
    "usage.error.preset": "This preset period does not exist.",
    "usage.error.machine": "This machine does not exist.",
}

NAV: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("/console/usage", "nav.usage", ("manager", "accountant")),
)
