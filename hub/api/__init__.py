"""The hub's REST API: registry administration, usage and sessions for billing, authentication.

Routers are split by feature and share one error boundary; `hub.api.app.create_app` wires them.
"""
