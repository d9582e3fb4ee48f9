"""/metrics: Prometheus exposition of queue, job, stage, cache and GPU metrics.

It needs no API key, like /healthz, so a Prometheus inside the cluster can scrape it. It tells
anyone who can reach it how busy the system is and which stage kinds and engines run: keep it off
the public Ingress (k8s/base/ingress.yaml routes only /v1, the health checks, /openapi.json and /)
and scrape the pods directly.
"""

from __future__ import annotations

import threading

from fastapi import APIRouter, FastAPI, Request, Response

from producer.broker import QUEUES
from producer.metrics import MediaqCollector, MetricsExporter

router = APIRouter(tags=["metrics"])
_create_lock = threading.Lock()


def metrics_exporter(app: FastAPI) -> MetricsExporter:
    """The app's exporter, made on the first scrape (its duration histogram starts there)."""
    with _create_lock:
        exporter = getattr(app.state, "metrics_exporter", None)
        if exporter is None:
            svc = app.state.services
            collector = MediaqCollector(
                db=svc.db,
                broker_url=svc.settings.resolved_broker_url(),
                queues=QUEUES,
                transport_options=svc.celery.conf.broker_transport_options or {},
            )
            exporter = MetricsExporter(collector)
            app.state.metrics_exporter = exporter
    return exporter


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text format, or OpenMetrics when the scraper's Accept header asks for it."""
    body, content_type = metrics_exporter(request.app).render(accept=request.headers.get("accept"))
    return Response(content=body, headers={"Content-Type": content_type})
