"""Operator routes: cancel a job, inspect and redrive dead letters, queue depth per topic and group."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import UUID

from aiohttp import web
from aiokafka.errors import KafkaError

from api.errors import ApiError, unavailable
from api.jobs import job_or_404
from api.principal import principal_of
from api.publish import publish
from api.params import limit_param, path_uuid, stage_param, uuid_param
from api.state import CONFIG, POOL
from projections import queries
from projections.failures import Reason
from projections.job_status import TERMINAL
from streams.codec import encode, key_for
from streams.commands import CancelJob, RedriveJob, RequestStage
from streams.depth import depth_targets, queue_depths
from streams.envelope import command_id_for

routes = web.RouteTableDef()


async def _send_control(request: web.Request, job_id: UUID, command) -> None:
    await publish(request.app, request.app[CONFIG].topics.job_control, encode(command), key_for(job_id))


@routes.post("/v1/jobs/{job_id}/cancel")
async def cancel(request: web.Request) -> web.Response:
    """Cancel a queued, delayed or running job (one just submitted too); 409 once it has finished."""
    job_id = path_uuid(request, "job_id")
    job = await job_or_404(request, job_id)
    if job["status"] in TERMINAL:
        raise ApiError(409, "job_finished", f"job {job_id} is already {job['status']}; there is nothing to cancel")
    now = datetime.now(timezone.utc)
    cmd = CancelJob(command_id=command_id_for(job_id, f"cancel:{now.isoformat()}"), job_id=job_id, requested_at=now,
                    requested_by=principal_of(request).actor)
    await _send_control(request, job_id, cmd)
    return web.json_response({"job_id": str(job_id), "status": "cancelling"}, status=202)


@routes.get("/v1/dlq")
async def list_dlq(request: web.Request) -> web.Response:
    q = request.query
    status = q.get("status")
    if status not in (None, "dead", "redriven"):
        raise ApiError(400, "invalid_status", "status is 'dead' or 'redriven'", field="status")
    stage = stage_param(q.get("stage"))
    job_id = uuid_param(q.get("job_id"), "job_id")
    limit = limit_param(request, 100, 1000)
    async with request.app[POOL].acquire() as conn:
        letters = await queries.list_dead_letters(conn, status=status, stage=stage, job_id=job_id, limit=limit,
                                                  tenant=principal_of(request).tenant)
    return web.json_response({"dead_letters": letters})


async def dead_letter_or_404(request: web.Request, letter_id: UUID) -> dict:
    """One dead letter with its original message, or 404 naming the id (the JSON routes and the monitor's pages)."""
    async with request.config_dict[POOL].acquire() as conn:
        letter = await queries.get_dead_letter(conn, letter_id)
    caller = principal_of(request)
    if letter is None or (caller.tenant is not None and letter.pop("tenant") != caller.tenant):
        raise ApiError(404, "dead_letter_not_found", f"no dead letter {letter_id}", field="dead_letter_id")
    letter.pop("tenant", None)
    return letter


@routes.get("/v1/dlq/{dead_letter_id}")
async def show_dlq(request: web.Request) -> web.Response:
    letter_id = path_uuid(request, "dead_letter_id")
    letter = await dead_letter_or_404(request, letter_id)
    return web.json_response(letter)


@routes.post("/v1/dlq/{dead_letter_id}/redrive")
async def redrive(request: web.Request) -> web.Response:
    """Back to the failed stage with fresh attempts; the dead letter is kept and marked redriven."""
    letter_id = path_uuid(request, "dead_letter_id")
    letter = await dead_letter_or_404(request, letter_id)
    if letter["status"] == "redriven":
        raise ApiError(409, "already_redriven", f"dead letter {letter_id} was redriven at {letter['redriven_at']}")
    if letter["reason"] == Reason.UNAPPLIABLE:
        raise ApiError(409, "not_redrivable", "this dead letter holds an event that could not be stored by the read "
                       "model (its error says why), not a stage request to run again; inspect raw_base64")
    if letter["original"] is None or letter["next_sequence"] is None:
        raise ApiError(409, "not_redrivable", f"this dead letter ({letter['reason']}) holds a message's bytes, not a "
                       "job's stage request to run again; inspect raw_base64")
    request_model = RequestStage.model_validate(letter["original"])
    job_id = request_model.job_id
    async with request.app[POOL].acquire() as conn:
        budget = await conn.fetchval("SELECT max_attempts FROM content_jobs WHERE job_id = $1", job_id)
    cmd = RedriveJob(
        command_id=command_id_for(job_id, f"redrive-command:{letter_id}"), job_id=job_id,
        requested_at=datetime.now(timezone.utc), dead_letter_id=letter_id, request=request_model,
        next_sequence=letter["next_sequence"], fresh_attempts=budget or request_model.max_attempts,
        requested_by=principal_of(request).actor,
    )
    await _send_control(request, job_id, cmd)
    return web.json_response({"dead_letter_id": str(letter_id), "job_id": str(job_id), "status": "redriving",
                              "stage": request_model.stage.value}, status=202)


@routes.get("/v1/queues")
async def queues(request: web.Request) -> web.Response:
    cfg = request.app[CONFIG]
    targets = depth_targets(cfg.topics)
    try:
        depths = await queue_depths(cfg.bootstrap, [(t, g) for t, g, _ in targets])
    except KafkaError as exc:
        raise unavailable("kafka_unavailable", f"queue depth could not be read: {type(exc).__name__}") from None
    out = []
    for (topic, group, labels), d in zip(targets, depths):
        out.append({
            **labels, "topic": topic, "group": group, "queue_length": d.queue_length,
            "oldest_msg_age_sec": d.oldest_msg_age_sec, "newest_msg_age_sec": d.newest_msg_age_sec,
            "total_messages": d.total_messages,
            "partitions": [{"partition": p.partition, "committed": p.committed, "end": p.end, "lag": p.lag}
                           for p in d.partitions],
        })
    return web.json_response({"queues": out})
