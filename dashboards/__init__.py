"""Grafana dashboards as code, their provisioning files and the push command.

Not built yet.
"""
