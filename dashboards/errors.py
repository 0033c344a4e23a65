"""The dashboards package's one exception family."""

from __future__ import annotations


class DashboardsError(Exception):
    """Anything the dashboards package refuses or cannot do."""


class InvalidDashboard(DashboardsError, ValueError):
    """A dashboard that Grafana's schema types do not take back, or with a dangling reference."""


class PushFailed(DashboardsError):
    """Grafana could not be reached, refused the credentials, or refused a request."""
