"""The registry: sites, organisations, members, badges, machines and qualifications.

It is the source of every machine's access list; each write bumps the access-list version.
"""
