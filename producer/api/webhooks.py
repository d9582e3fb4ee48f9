"""/v1/webhooks: a tenant's webhook endpoints and their delivery log; /v1/jobs/{id}/webhooks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from producer.api.batches import PROBLEMS
from producer.api.deps import ReadTenant, Services, SubmitTenant, services
from producer.api.problems import ProblemError, not_found
from producer.netguard import AddressRefused
from producer.queries import get_job
from producer.webhooks.endpoints import (
    MAX_ENDPOINTS_PER_TENANT,
    TooManyEndpoints,
    check_target,
    create_endpoint,
    delete_endpoint,
    endpoint_deliveries,
    endpoint_view,
    get_endpoint,
    job_deliveries,
    list_endpoints,
    rotate_secret,
)
from schemas.webhooks import (
    WebhookDeliveryList,
    WebhookEndpointCreated,
    WebhookEndpointList,
    WebhookEndpointSpec,
    WebhookEndpointView,
    WebhookSecretRotation,
)

router = APIRouter(tags=["webhooks"])
# a body that is not UTF-8 JSON at all: FastAPI answers 400 before validation
BODY_PROBLEMS = {**PROBLEMS, 400: PROBLEMS[422]}


@router.post(
    "/v1/webhooks",
    status_code=201,
    response_model=WebhookEndpointCreated,
    responses=BODY_PROBLEMS,
    summary="Register a webhook endpoint; the response holds its signing secret, shown once",
)
def register_endpoint(
    spec: WebhookEndpointSpec,
    svc: Annotated[Services, Depends(services)],
    tenant: SubmitTenant,
) -> WebhookEndpointCreated:
    allow_private = svc.settings.fetch_allow_private_networks
    try:
        check_target(spec.url, allow_private=allow_private)
    except AddressRefused as error:
        raise ProblemError(
            422,
            "webhook-url-refused",
            "Webhook URL refused",
            f"{error}; webhook URLs must be https on a public address",
            errors=[{"field": "url", "detail": str(error)}],
        ) from None
    try:
        with svc.db.session() as session:
            return create_endpoint(
                session=session, tenant_id=tenant, spec=spec, server_secret=svc.secret
            )
    except TooManyEndpoints:
        raise ProblemError(
            422,
            "too-many-webhooks",
            "Too many webhook endpoints",
            f"a tenant has at most {MAX_ENDPOINTS_PER_TENANT} endpoints; delete one first",
            errors=[{"field": "url", "detail": "endpoint limit reached"}],
        ) from None


@router.get("/v1/webhooks", response_model=WebhookEndpointList, responses=PROBLEMS)
def get_endpoints(
    svc: Annotated[Services, Depends(services)], tenant: ReadTenant
) -> WebhookEndpointList:
    with svc.db.read_session() as session:
        return WebhookEndpointList(endpoints=list_endpoints(session=session, tenant_id=tenant))


@router.get("/v1/webhooks/{endpoint_id}", response_model=WebhookEndpointView, responses=PROBLEMS)
def get_endpoint_view(
    endpoint_id: str, svc: Annotated[Services, Depends(services)], tenant: ReadTenant
) -> WebhookEndpointView:
    with svc.db.read_session() as session:
        endpoint = get_endpoint(session=session, tenant_id=tenant, endpoint_id=endpoint_id)
        if endpoint is None:
            raise not_found("webhook endpoint", endpoint_id)
        return endpoint_view(endpoint)


@router.post(
    "/v1/webhooks/{endpoint_id}/rotate-secret",
    response_model=WebhookEndpointCreated,
    responses=BODY_PROBLEMS,
    summary="New signing secret, shown once; the old one also signs during the grace period",
)
def rotate_endpoint_secret(
    endpoint_id: str,
    svc: Annotated[Services, Depends(services)],
    tenant: SubmitTenant,
    rotation: WebhookSecretRotation | None = None,
) -> WebhookEndpointCreated:
    grace_s = (rotation or WebhookSecretRotation()).grace_s
    with svc.db.session() as session:
        endpoint = get_endpoint(session=session, tenant_id=tenant, endpoint_id=endpoint_id)
        if endpoint is None:
            raise not_found("webhook endpoint", endpoint_id)
        return rotate_secret(
            session=session, endpoint=endpoint, grace_s=grace_s, server_secret=svc.secret
        )


@router.delete(
    "/v1/webhooks/{endpoint_id}",
    status_code=204,
    response_class=Response,
    responses=PROBLEMS,
    summary="Delete an endpoint: nothing more is sent to it; pending deliveries fail",
)
def remove_endpoint(
    endpoint_id: str, svc: Annotated[Services, Depends(services)], tenant: SubmitTenant
) -> Response:
    with svc.db.session() as session:
        if not delete_endpoint(session=session, tenant_id=tenant, endpoint_id=endpoint_id):
            raise not_found("webhook endpoint", endpoint_id)
    return Response(status_code=204)


@router.get(
    "/v1/webhooks/{endpoint_id}/deliveries",
    response_model=WebhookDeliveryList,
    responses=PROBLEMS,
    summary="The endpoint's deliveries, newest first, each with its attempts",
)
def get_endpoint_deliveries(
    endpoint_id: str,
    svc: Annotated[Services, Depends(services)],
    tenant: ReadTenant,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before_event_id: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="Page: deliveries of older events")
    ] = None,
) -> WebhookDeliveryList:
    with svc.db.read_session() as session:
        if get_endpoint(session=session, tenant_id=tenant, endpoint_id=endpoint_id) is None:
            raise not_found("webhook endpoint", endpoint_id)
        deliveries = endpoint_deliveries(
            session=session, endpoint_id=endpoint_id, limit=limit, before_event_id=before_event_id
        )
    return WebhookDeliveryList(deliveries=deliveries)


@router.get(
    "/v1/jobs/{job_id}/webhooks",
    response_model=WebhookDeliveryList,
    responses=PROBLEMS,
    tags=["jobs"],
    summary="The delivery log of the job's events: every endpoint, every attempt",
)
def get_job_deliveries(
    job_id: str, svc: Annotated[Services, Depends(services)], tenant: ReadTenant
) -> WebhookDeliveryList:
    with svc.db.read_session() as session:
        if get_job(session=session, tenant_id=tenant, job_id=job_id) is None:
            raise not_found("job", job_id)
        return WebhookDeliveryList(
            deliveries=job_deliveries(session=session, tenant_id=tenant, job_id=job_id)
        )
