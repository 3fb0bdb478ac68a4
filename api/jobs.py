"""Job routes: intake (writes JobSubmitted to the log), status, events, payloads, result, listing, live stream."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from uuid import UUID, uuid4

from aiohttp import web
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from api.errors import ApiError, validation_error
from api.params import limit_param, path_uuid, stage_param
from api.requests import IntakeRequest
from api.state import CONFIG, NOTIFICATIONS, POOL, PRODUCER
from projections import queries
from streams.codec import encode, key_for
from streams.envelope import event_id_for, job_id_for_idempotency_key
from streams.events import JobSubmitted
from streams.payloads import Stage

TERMINAL = {"completed", "cancelled", "dead_lettered"}
IDEMPOTENCY_KEY_MAX = 200

routes = web.RouteTableDef()


async def _json_body(request: web.Request) -> bytes:
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", f"send Content-Type: application/json, not '{request.content_type}'")
    return await request.read()


@routes.post("/content-intake")
@routes.post("/v1/jobs")
async def submit(request: web.Request) -> web.Response:
    body = await _json_body(request)
    try:
        req = IntakeRequest.model_validate_json(body, strict=True)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise ApiError(400, "invalid_json", "request body is not valid JSON") from None
        raise validation_error(exc) from None
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key) <= IDEMPOTENCY_KEY_MAX):
        raise ApiError(400, "invalid_header", f"Idempotency-Key must be 1..{IDEMPOTENCY_KEY_MAX} characters", field="Idempotency-Key")
    cfg = request.app[CONFIG]
    if key is not None:
        async with request.app[POOL].acquire() as conn:
            existing = await queries.job_by_idempotency_key(conn, key)
        if existing is not None:
            return web.json_response(
                {"job_id": existing["job_id"], "status": existing["status"], "stage": existing["current_stage"]},
                status=200, headers={"Location": f"/v1/jobs/{existing['job_id']}"},
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
    )
    try:
        await request.app[PRODUCER].send_and_wait(cfg.topics.job_events, encode(event), key=key_for(job_id))
    except KafkaError as exc:
        raise ApiError(503, "kafka_unavailable", f"the job could not be written to Kafka: {type(exc).__name__}") from None
    return web.json_response(
        {"job_id": str(job_id), "status": "queued", "stage": event.initial_stage.value},
        status=202, headers={"Location": f"/v1/jobs/{job_id}"},
    )


async def _job_or_404(conn, job_id: UUID) -> dict:
    job = await queries.get_job(conn, job_id)
    if job is None:
        raise ApiError(404, "job_not_found", f"no job {job_id}", field="job_id")
    return job


@routes.get("/v1/jobs/{job_id}")
async def get_job(request: web.Request) -> web.Response:
    job_id = path_uuid(request, "job_id")
    async with request.app[POOL].acquire() as conn:
        return web.json_response(await _job_or_404(conn, job_id))


@routes.get("/v1/jobs/{job_id}/events")
async def get_events(request: web.Request) -> web.Response:
    job_id = path_uuid(request, "job_id")
    async with request.app[POOL].acquire() as conn:
        await _job_or_404(conn, job_id)
        events = await queries.job_events(conn, job_id)
    return web.json_response({"job_id": str(job_id), "events": events})


@routes.get("/v1/jobs/{job_id}/payloads/{stage}")
async def get_payload(request: web.Request) -> web.Response:
    job_id = path_uuid(request, "job_id")
    stage = stage_param(request.match_info["stage"])
    async with request.app[POOL].acquire() as conn:
        await _job_or_404(conn, job_id)
        payload = await queries.job_payload(conn, job_id, stage)
    if payload is None:
        raise ApiError(404, "payload_not_found", f"stage {stage} of job {job_id} has no output (yet)", field="stage")
    return web.json_response(payload)


@routes.get("/v1/jobs/{job_id}/result")
async def get_result(request: web.Request) -> web.Response:
    job_id = path_uuid(request, "job_id")
    async with request.app[POOL].acquire() as conn:
        job = await _job_or_404(conn, job_id)
        if job["status"] != "completed":
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
    if status is not None and status not in {"queued", "running", "retrying", *TERMINAL}:
        raise ApiError(400, "invalid_status", f"unknown status '{status}'", field="status")
    stage = stage_param(q.get("stage"))
    limit = limit_param(request)
    cursor = q.get("cursor")
    async with request.app[POOL].acquire() as conn:
        try:
            jobs, nxt = await queries.list_jobs(conn, status=status, stage=stage, limit=limit, cursor=cursor)
        except ValueError:
            raise ApiError(400, "invalid_cursor", "cursor was not issued by this API", field="cursor") from None
    return web.json_response({"jobs": jobs, "next_cursor": nxt})


@routes.get("/v1/jobs/{job_id}/stream")
async def stream(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: the job's events in order, live, ending after a terminal event."""
    job_id = path_uuid(request, "job_id")
    pool = request.app[POOL]
    async with pool.acquire() as conn:
        await _job_or_404(conn, job_id)
    try:
        after = int(request.headers.get("Last-Event-ID", "0"))
    except ValueError:
        after = 0
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    hub = request.app[NOTIFICATIONS]
    wake = hub.watch(str(job_id))
    try:
        while True:
            wake.clear()
            async with pool.acquire() as conn:
                events = await queries.job_events(conn, job_id, after)
                status = (await conn.fetchval("SELECT status FROM content_jobs WHERE job_id = $1", job_id))
            for ev in events:
                after = ev["sequence"]
                await resp.write(f"id: {after}\nevent: {ev['type']}\ndata: {json.dumps(ev)}\n\n".encode())
            if status in TERMINAL:
                break
            try:
                await asyncio.wait_for(wake.wait(), timeout=15)
            except asyncio.TimeoutError:
                await resp.write(b": keep-alive\n\n")
    finally:
        hub.unwatch(str(job_id), wake)
    await resp.write_eof()
    return resp
