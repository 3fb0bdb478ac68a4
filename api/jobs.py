"""Job routes: intake (writes JobSubmitted to the log), status, events, payloads, result, listing, live stream,
and the seed's status route."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from uuid import UUID, uuid4

from aiohttp import web

from api.auth import still_signed_in
from api.bodies import read_model
from api.errors import ApiError
from api.idempotency import fingerprint, same_request
from api.principal import principal_of, sent_idempotency_key
from api.params import cursor_param, idempotency_key_param, last_event_id_param, limit_param, path_uuid, stage_param
from api.publish import publish
from api.requests import IntakeRequest, refused_choice
from api.sse import include_output_param, sse_frame
from api.state import CONFIG, NOTIFICATIONS, POOL, READS
from projections import queries
from projections.job_status import TERMINAL, JobStatus
from projections.jobs import JobsProjection
from streams.codec import encode, key_for
from streams.envelope import event_id_for, job_id_for_idempotency_key
from streams.events import JobSubmitted
from streams.payloads import Stage

SEED_INTAKE = "/content-intake"
KEEP_ALIVE_SECONDS = 15.0  # the longest a job stream stays silent

routes = web.RouteTableDef()


def _location(request: web.Request, job_id: object) -> str:
    """A seed client polls the seed's status route; a /v1 client the job itself."""
    return f"{SEED_INTAKE}/{job_id}" if request.path == SEED_INTAKE else f"/v1/jobs/{job_id}"


@routes.post(SEED_INTAKE)
@routes.post("/v1/jobs")
async def submit(request: web.Request) -> web.Response:
    req = await read_model(request, IntakeRequest)
    caller = principal_of(request)
    key = idempotency_key_param(request)
    if key is not None:
        key = caller.idempotency_scope(key)
    cfg = request.app[CONFIG]
    if (refused := refused_choice(req.payload, cfg.provider_choices)) is not None:
        field, reason = refused
        raise ApiError(422, "validation_error", f"{field}: {reason}", field=field,
                       details=[{"field": field, "reason": reason}])
    if key is not None:
        async with request.app[POOL].acquire() as conn:
            existing = await queries.job_by_idempotency_key(conn, key)
        if existing is not None:
            same_request(existing["request_fingerprint"], fingerprint(req))
            return web.json_response(
                {"job_id": existing["job_id"], "status": existing["status"], "stage": existing["current_stage"]},
                status=200, headers={"Location": _location(request, existing["job_id"])},
            )
    job_id = job_id_for_idempotency_key(key) if key is not None else uuid4()
    event = JobSubmitted(
        event_id=event_id_for(job_id, 1),
        job_id=job_id,
        sequence=1,
        occurred_at=datetime.now(timezone.utc),
        correlation_id=job_id,
        job_type=req.job_type,
        requester_email=req.requester_email,
        brief=req.payload,
        initial_stage=req.first_stage(),
        priority=req.priority,
        delay_seconds=req.delay_seconds,
        max_attempts=req.max_attempts or cfg.default_max_attempts,
        retry_delay_seconds=req.retry_delay_seconds if req.retry_delay_seconds is not None else cfg.default_retry_delay_seconds,
        visibility_seconds=req.visibility_seconds or cfg.default_visibility_seconds,
        idempotency_key=key,
        request_fingerprint=fingerprint(req) if key is not None else None,
        tenant=caller.tenant,
        submitted_by=caller.key_id,
        token_budget=req.token_budget,
    )
    await publish(request.app, cfg.topics.job_events, encode(event), key_for(job_id), idempotent=True)
    return web.json_response(
        {"job_id": str(job_id), "status": "queued", "stage": event.initial_stage.value},
        status=202, headers={"Location": _location(request, job_id)},
    )


async def job_or_404(request: web.Request, job_id: UUID) -> dict:
    """The job as projected; an id whose JobSubmitted is on the log but not yet projected is waited for
    (the JSON routes and the monitor's pages alike)."""
    state = request.config_dict
    pool = state[POOL]

    async def lookup() -> dict | None:
        async with pool.acquire() as conn:
            return await queries.get_job(conn, job_id)

    job = await state[READS].read(lookup, projection=JobsProjection.name, topic=state[CONFIG].topics.job_events,
                                  key=key_for(job_id), job_id=str(job_id))
    # Another tenant's job, or another submitter's, is not there for this caller: the same 404, so that an id
    # says nothing about whether it exists.
    if job is None or not principal_of(request).sees(job["tenant"], job["submitted_by"]):
        raise ApiError(404, "job_not_found", f"no job {job_id}", field="job_id")
    return job


@routes.get("/v1/jobs/{job_id}")
async def get_job(request: web.Request) -> web.Response:
    job = await job_or_404(request, path_uuid(request, "job_id"))
    return web.json_response(job | {"idempotency_key": sent_idempotency_key(job["idempotency_key"])})


@routes.get(SEED_INTAKE + "/{job_id}")
async def seed_status(request: web.Request) -> web.Response:
    """The seed's view of a job: `status` is one of queued, processing, completed, failed (see the README)."""
    job_id = path_uuid(request, "job_id")
    job = await job_or_404(request, job_id)
    status = JobStatus(job["status"])
    body: dict = {"job_id": str(job_id), "status": status.seed.value, "job_status": status.value,
                  "stage": job["current_stage"], "requester_email": job["requester_email"], "title": job["title"],
                  "created_at": job["queued_at"], "updated_at": job["updated_at"], "completed_at": job["completed_at"],
                  "failure": None}
    if status is JobStatus.DEAD_LETTERED:
        async with request.app[POOL].acquire() as conn:
            letters = await queries.list_dead_letters(conn, status="dead", stage=None, job_id=job_id, limit=1)
        letter = letters[0] if letters else None
        body["failure"] = {"reason": status.value, "stage": job["current_stage"], "error": job["last_error"],
                           "at": job["dead_lettered_at"], "dead_letter_id": letter["dead_letter_id"] if letter else None}
    elif status is JobStatus.CANCELLED:
        body["failure"] = {"reason": status.value, "stage": job["current_stage"], "error": "cancelled on request",
                           "at": job["cancelled_at"], "dead_letter_id": None}
    return web.json_response(body)


@routes.get("/v1/jobs/{job_id}/events")
async def get_events(request: web.Request) -> web.Response:
    job_id = path_uuid(request, "job_id")
    await job_or_404(request, job_id)
    async with request.app[POOL].acquire() as conn:
        events = await queries.job_events(conn, job_id)
    return web.json_response({"job_id": str(job_id), "events": events})


@routes.get("/v1/jobs/{job_id}/payloads/{stage}")
async def get_payload(request: web.Request) -> web.Response:
    job_id = path_uuid(request, "job_id")
    stage = stage_param(request.match_info["stage"])
    await job_or_404(request, job_id)
    async with request.app[POOL].acquire() as conn:
        payload = await queries.job_payload(conn, job_id, stage)
    if payload is None:
        raise ApiError(404, "payload_not_found", f"stage {stage} of job {job_id} has no output (yet)", field="stage")
    return web.json_response(payload)


@routes.get("/v1/jobs/{job_id}/result")
async def get_result(request: web.Request) -> web.Response:
    job_id = path_uuid(request, "job_id")
    job = await job_or_404(request, job_id)
    async with request.app[POOL].acquire() as conn:
        if job["status"] != JobStatus.COMPLETED:
            raise ApiError(409, "job_not_completed", f"job {job_id} is {job['status']}; its result exists once it is completed")
        export = await queries.job_payload(conn, job_id, Stage.EXPORT.value)
        markup = await queries.job_payload(conn, job_id, Stage.MARKUP.value)
        qa = await queries.job_payload(conn, job_id, Stage.QA.value)
    result: dict = {"job_id": str(job_id), "job_type": job["job_type"], "title": job["title"]}
    if export is not None:
        body = export["body"]
        result |= {"slug": body["slug"], "markdown": body["markdown"], "html": body["html"], "json_ld": json.loads(body["json_ld"])}
    elif markup is not None:
        result |= {"json_ld": json.loads(markup["body"]["json_ld"])}
    result["qa"] = qa["body"] if qa else None
    return web.json_response(result)


@routes.get("/v1/jobs")
async def list_jobs(request: web.Request) -> web.Response:
    q = request.query
    status = q.get("status")
    if status is not None and status not in set(JobStatus):
        raise ApiError(400, "invalid_status", f"unknown status '{status}' ({', '.join(JobStatus)})", field="status")
    stage = stage_param(q.get("stage"))
    limit = limit_param(request)
    after = cursor_param(request)
    caller = principal_of(request)
    async with request.app[POOL].acquire() as conn:
        jobs, nxt = await queries.list_jobs(conn, status=status, stage=stage, limit=limit, after=after,
                                            tenant=caller.tenant, submitted_by=caller.owner_filter)
    jobs = [job | {"idempotency_key": sent_idempotency_key(job["idempotency_key"])} for job in jobs]
    return web.json_response({"jobs": jobs, "next_cursor": nxt})


@routes.get("/v1/jobs/{job_id}/stream")
async def stream(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: the job's events in order, live, ending after a terminal event, or once the caller's key
    or monitor session is no longer good (checked at each wake-up, and at least every key-cache time)."""
    job_id = path_uuid(request, "job_id")
    after = last_event_id_param(request)
    include_output = include_output_param(request)
    pool = request.app[POOL]
    await job_or_404(request, job_id)
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    hub = request.app[NOTIFICATIONS]
    recheck = min(KEEP_ALIVE_SECONDS, max(1.0, request.app[CONFIG].key_cache_seconds))
    wake = hub.watch(str(job_id))
    try:
        while True:
            wake.clear()
            async with pool.acquire() as conn:
                events = await queries.job_events(conn, job_id, after)
                status = (await conn.fetchval("SELECT status FROM content_jobs WHERE job_id = $1", job_id))
            for ev in events:
                after = ev["sequence"]
                await resp.write(sse_frame(ev, include_output=include_output))
            if status in TERMINAL:
                break
            try:
                await asyncio.wait_for(wake.wait(), timeout=recheck)
            except asyncio.TimeoutError:
                await resp.write(b": keep-alive\n\n")
            if not await still_signed_in(request):
                break  # its key was revoked (or its monitor session ended): no more of the job's events
    finally:
        hub.unwatch(str(job_id), wake)
    await resp.write_eof()
    return resp
