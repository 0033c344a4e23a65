"""Grafana dashboards as code: every panel's InfluxQL as data, the dashboards built with
grafana-foundation-sdk and committed as JSON, their provisioning files, and the push command.

See docs/dashboards.md.
"""
