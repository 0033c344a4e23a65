"""`GET /metrics`: the hub's counters in Prometheus's text exposition format.

Left unauthenticated, as Prometheus scrapers usually are; the counters name no member.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from hub.api.deps import MetricsDep

router = APIRouter(tags=["metrics"])
PROMETHEUS_TEXT = "text/plain; version=0.0.4"


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {PROMETHEUS_TEXT: {"schema": {"type": "string"}}}}},
)
def metrics(registry: MetricsDep) -> PlainTextResponse:
    return PlainTextResponse(registry.render(), media_type=PROMETHEUS_TEXT)
