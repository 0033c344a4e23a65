"""The hub's web console: server-rendered pages in French and English for the workshop's people.

Another face of the hub over the same services and users as the REST API; `hub.console.web.install`
adds it to the API's FastAPI app.
"""
