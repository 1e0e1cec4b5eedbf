"""The lookup service's HTTP API (FastAPI): `app.create_app` builds it, `onceonly serve` runs it."""
