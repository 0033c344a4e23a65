"""Registry routes: sites, organisations, members, badges, machines and qualifications.

Managers write; each committed write calls the app's `on_registry_change` so access lists go out.
"""
