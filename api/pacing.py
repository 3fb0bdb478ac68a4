"""Pacing routes: schedules, a user's knowledge and meetings (events on pacing-events), triggers and read-outs."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import UUID, uuid4, uuid5
from zoneinfo import ZoneInfo

from aiohttp import web
from aiokafka.errors import KafkaError
from pydantic import BaseModel

from api.bodies import read_model
from api.errors import ApiError, unavailable
from api.idempotency import fingerprint, same_request
from api.pacing_requests import KnowledgeCreate, MeetingCreate, ScheduleCreate, SchedulePatch, TriggerRequest
from api.params import idempotency_key_param, limit_param, user_id_param, uuid_param
from api.principal import Role, principal_of
from api.publish import publish
from api.state import CONFIG, POOL, READS
from projections import pacing_queries as q
from projections.pacing_analyses import PacingAnalysesProjection
from projections.pacing_context import PacingContextProjection
from projections.pacing_schedules import PacingSchedulesProjection
from streams.codec import encode, key_for
from streams.depth import queue_depths
from streams.envelope import PLANPERFECT_NS
from streams.pacing_events import (
    KnowledgeDocumentAdded,
    MeetingNotesAdded,
    ScheduleCreated,
    ScheduleDeleted,
    ScheduleUpdated,
    pacing_key,
)
from streams.pacing_jobs import pacing_submitted
from streams.pacing_payloads import PacingBrief
from streams.payloads import Stage
from streams.topics import Lane

routes = web.RouteTableDef()

GENERATION_STATUSES = {"pending", "running", "retrying", "completed", "dead_lettered", "cancelled"}

# ---------------------------------------------------------------- request plumbing


def _idempotent_id(request: web.Request, kind: str, user_id: str, req: BaseModel) -> tuple[UUID, str | None]:
    """The write's id and its request's fingerprint. Without an Idempotency-Key: a new id, no fingerprint. With one:
    the same id for the same key of the same API key (a retried POST is the same fact; another API key's equal
    Idempotency-Key is another fact, as for jobs)."""
    key = idempotency_key_param(request)
    if key is None:
        return uuid4(), None
    scoped = principal_of(request).idempotency_scope(key)
    return uuid5(PLANPERFECT_NS, f"pacing-{kind}:{user_id}:{scoped}"), fingerprint(req)


async def _first_write(request: web.Request, kind: str, subject: UUID, request_fingerprint: str | None) -> dict | None:
    """The row the first request with this Idempotency-Key made, when it is projected with its fingerprint: a retry
    with the same body is answered from it and writes nothing again; another body is refused (422). None: write the
    fact (again, if the first is not projected yet: the same fact under the same event id, which is projected once;
    or a row from before fingerprints were kept, answered as it was then)."""
    if request_fingerprint is None:
        return None
    async with request.app[POOL].acquire() as conn:
        first = await q.first_write(conn, kind, subject)
    if first is None or first["request_fingerprint"] is None:
        return None
    same_request(first["request_fingerprint"], request_fingerprint)
    return first


async def _settled(request: web.Request, projection: str, user_id: str | None) -> None:
    """Wait until `projection` holds every pacing write acknowledged so far for the user (any user if None)."""
    await request.app[READS].settle(projection=projection, topic=request.app[CONFIG].topics.pacing_events,
                                    key=None if user_id is None else pacing_key(user_id))


async def _publish(request: web.Request, event, idempotent: bool = False) -> None:
    """`idempotent`: the route takes an Idempotency-Key (its 503 then says to retry with it)."""
    await publish(request.app, request.app[CONFIG].topics.pacing_events, encode(event), pacing_key(event.user_id),
                  idempotent=idempotent)


def _fact(request: web.Request, user_id: str, subject: UUID, tenant: str | None) -> dict:
    """Envelope fields of a pacing event, with who wrote it; a retry of the same request writes the same event id."""
    return dict(event_id=uuid5(subject, "created"), user_id=user_id, occurred_at=datetime.now(timezone.utc),
                correlation_id=subject, tenant=tenant, by=principal_of(request).actor)


def _tenant(request: web.Request) -> str | None:
    """The tenant reads are confined to: the caller key's, or None (every user) for a key bound to none."""
    return principal_of(request).tenant


async def _user_tenant(request: web.Request, user_id: str) -> str | None:
    """The tenant a write for `user_id` is stamped with. A user id names one user across the deployment (its
    partition, its one analysis a day, its context as the agents read it), so it belongs to one tenant: a key
    bound to a tenant writes for its tenant's users and new ones, and is refused (409) a user id another tenant
    (or no tenant) holds. A key bound to none writes for users of no tenant, and, from operator up, for a tenant's
    user too, stamped with the user's tenant (an operator's fix never detaches data from its tenant); below
    operator it is refused a tenant's user as a key of another tenant is: a deployment-wide intake key must not
    plant documents or schedules in a tenant's user, which that tenant would take for its own."""
    async with request.app[POOL].acquire() as conn:
        owners = await q.user_tenants(conn, user_id)
    principal = principal_of(request)
    caller = principal.tenant
    if caller is None and principal.role.allows(Role.OPERATOR):
        return next(iter(owners)) if len(owners) == 1 else None
    if owners - {caller}:
        raise ApiError(409, "user_id_taken", f"user_id {user_id} belongs to another tenant; choose another id",
                       field="user_id")
    return caller


async def _schedule_or_404(request: web.Request, schedule_id: UUID) -> dict:
    """The schedule as projected; one whose write is on the log but not yet projected is waited for (its
    user, hence its partition, is unknown from the id alone: every partition of pacing-events). Another
    tenant's schedule is not there for a key bound to a tenant: the same 404."""
    pool = request.app[POOL]
    tenant = _tenant(request)

    async def lookup() -> dict | None:
        async with pool.acquire() as conn:
            return await q.get_schedule(conn, schedule_id, tenant)

    schedule = await request.app[READS].read(lookup, projection=PacingSchedulesProjection.name,
                                             topic=request.app[CONFIG].topics.pacing_events, key=None)
    if schedule is not None:
        # A change or deletion of it may be on the log and not yet projected: answering the row as it stands
        # would be a stale read (or a PATCH of a deleted schedule). Wait for its user's partition, as the list
        # of the user's schedules does, and read it again.
        await _settled(request, PacingSchedulesProjection.name, schedule["user_id"])
        schedule = await lookup()
    if schedule is None:
        raise ApiError(404, "schedule_not_found", f"no schedule {schedule_id}", field="schedule_id")
    return schedule


# ---------------------------------------------------------------- schedules


@routes.post("/v1/pacing/schedules")
async def create_schedule(request: web.Request) -> web.Response:
    req = await read_model(request, ScheduleCreate)
    schedule_id, request_fingerprint = _idempotent_id(request, "schedule", req.user_id, req)
    tenant = await _user_tenant(request, req.user_id)
    first = await _first_write(request, "schedule", schedule_id, request_fingerprint)
    if first is None:
        event = ScheduleCreated(**_fact(request, req.user_id, schedule_id, tenant), schedule_id=schedule_id,
                                request_fingerprint=request_fingerprint, **req.model_dump(exclude={"user_id"}))
        await _publish(request, event, idempotent=True)
        first = {"created_at": event.occurred_at.isoformat(), "created_by": event.by}
    view = {"schedule_id": str(schedule_id), **req.model_dump(mode="json"), "created_at": first["created_at"],
            "created_by": first["created_by"]}
    return web.json_response({"status": "accepted", "schedule": view}, status=202,
                             headers={"Location": f"/v1/pacing/schedules/{schedule_id}"})


@routes.get("/v1/pacing/schedules")
async def list_schedules(request: web.Request) -> web.Response:
    user_id = user_id_param(request.query.get("user_id"), required=False)
    limit = limit_param(request)
    await _settled(request, PacingSchedulesProjection.name, user_id)
    async with request.app[POOL].acquire() as conn:
        schedules = await q.list_schedules(conn, user_id=user_id, limit=limit, tenant=_tenant(request))
    return web.json_response({"schedules": schedules})


@routes.get("/v1/pacing/schedules/{schedule_id}")
async def get_schedule(request: web.Request) -> web.Response:
    return web.json_response(await _schedule_or_404(request, uuid_param(request.match_info["schedule_id"], "schedule_id")))


@routes.patch("/v1/pacing/schedules/{schedule_id}")
async def patch_schedule(request: web.Request) -> web.Response:
    schedule_id = uuid_param(request.match_info["schedule_id"], "schedule_id")
    req = await read_model(request, SchedulePatch)
    current = await _schedule_or_404(request, schedule_id)
    changes = req.model_dump(exclude_unset=True)
    event = ScheduleUpdated(event_id=uuid4(), user_id=current["user_id"], occurred_at=datetime.now(timezone.utc),
                            correlation_id=schedule_id, schedule_id=schedule_id,
                            tenant=await _user_tenant(request, current["user_id"]), by=principal_of(request).actor,
                            **changes)
    await _publish(request, event)
    view = current | req.model_dump(mode="json", exclude_unset=True) | {"updated_at": event.occurred_at.isoformat(),
                                                                        "updated_by": event.by}
    return web.json_response({"status": "accepted", "schedule": view}, status=202)


@routes.delete("/v1/pacing/schedules/{schedule_id}")
async def delete_schedule(request: web.Request) -> web.Response:
    schedule_id = uuid_param(request.match_info["schedule_id"], "schedule_id")
    current = await _schedule_or_404(request, schedule_id)
    await _publish(request, ScheduleDeleted(event_id=uuid5(schedule_id, "deleted"), user_id=current["user_id"],
                                            occurred_at=datetime.now(timezone.utc), correlation_id=schedule_id,
                                            schedule_id=schedule_id,
                                            tenant=await _user_tenant(request, current["user_id"]),
                                            by=principal_of(request).actor))
    return web.json_response({"status": "accepted", "schedule_id": str(schedule_id), "deleted": True}, status=202)


# ---------------------------------------------------------------- a user's context


@routes.post("/v1/users/{user_id}/knowledge")
async def add_knowledge(request: web.Request) -> web.Response:
    user_id = user_id_param(request.match_info["user_id"])
    req = await read_model(request, KnowledgeCreate)
    document_id, request_fingerprint = _idempotent_id(request, "knowledge", user_id, req)
    tenant = await _user_tenant(request, user_id)
    if await _first_write(request, "knowledge", document_id, request_fingerprint) is None:
        await _publish(request, KnowledgeDocumentAdded(**_fact(request, user_id, document_id, tenant),
                                                       document_id=document_id, request_fingerprint=request_fingerprint,
                                                       **req.model_dump()), idempotent=True)
    return web.json_response({"status": "accepted", "document_id": str(document_id), "user_id": user_id,
                              "chars": len(req.body)}, status=202)


@routes.get("/v1/users/{user_id}/knowledge")
async def list_knowledge(request: web.Request) -> web.Response:
    user_id = user_id_param(request.match_info["user_id"])
    limit = limit_param(request, 100, 1000)
    await _settled(request, PacingContextProjection.name, user_id)
    async with request.app[POOL].acquire() as conn:
        return web.json_response({"documents": await q.list_documents(conn, user_id, limit, _tenant(request))})


@routes.post("/v1/users/{user_id}/meetings")
async def add_meeting(request: web.Request) -> web.Response:
    user_id = user_id_param(request.match_info["user_id"])
    req = await read_model(request, MeetingCreate)
    meeting_id, request_fingerprint = _idempotent_id(request, "meeting", user_id, req)
    tenant = await _user_tenant(request, user_id)
    if await _first_write(request, "meeting", meeting_id, request_fingerprint) is None:
        await _publish(request, MeetingNotesAdded(**_fact(request, user_id, meeting_id, tenant), meeting_id=meeting_id,
                                                  request_fingerprint=request_fingerprint, **req.model_dump()),
                       idempotent=True)
    return web.json_response({"status": "accepted", "meeting_id": str(meeting_id), "user_id": user_id,
                              "chars": len(req.notes)}, status=202)


@routes.get("/v1/users/{user_id}/meetings")
async def list_meetings(request: web.Request) -> web.Response:
    user_id = user_id_param(request.match_info["user_id"])
    limit = limit_param(request, 100, 1000)
    await _settled(request, PacingContextProjection.name, user_id)
    async with request.app[POOL].acquire() as conn:
        return web.json_response({"meetings": await q.list_meetings(conn, user_id, limit, _tenant(request))})


# ---------------------------------------------------------------- triggers and read-outs


@routes.post("/v1/pacing/trigger")
async def trigger(request: web.Request) -> web.Response:
    """Today's analysis for the user (in the schedule's time zone): 202 submitted, or 200 if the day has one."""
    req = await read_model(request, TriggerRequest)
    await _settled(request, PacingSchedulesProjection.name, req.user_id)  # a schedule created just before
    async with request.app[POOL].acquire() as conn:
        schedule = await _trigger_schedule(conn, req, _tenant(request))
        brief = PacingBrief(
            user_id=req.user_id, local_date=datetime.now(ZoneInfo(schedule["time_zone"])).date(), slot="manual",
            trigger="manual", schedule_id=UUID(schedule["schedule_id"]), time_zone=schedule["time_zone"],
            content_types=schedule["content_types"], window_days=schedule["window_days"])
        existing = await q.analysis_for(conn, req.user_id, brief.local_date)
    if existing is not None:
        return web.json_response(_accepted(existing["analysis_id"], brief, existing["status"]), status=200,
                                 headers={"Location": f"/v1/pacing/analyses/{existing['analysis_id']}"})
    cfg = request.app[CONFIG]
    event = pacing_submitted(brief, now=datetime.now(timezone.utc), max_attempts=cfg.default_max_attempts,
                             retry_delay_seconds=cfg.default_retry_delay_seconds,
                             visibility_seconds=cfg.default_visibility_seconds,
                             tenant=await _user_tenant(request, req.user_id), submitted_by=principal_of(request).key_id)
    await publish(request.app, cfg.topics.job_events, encode(event), key_for(event.job_id))
    return web.json_response(_accepted(str(event.job_id), brief, "queued"), status=202,
                             headers={"Location": f"/v1/pacing/analyses/{event.job_id}"})


async def _trigger_schedule(conn, req: TriggerRequest, tenant: str | None) -> dict:
    """The schedule to analyse for; another tenant's user has none, as an unknown one has none."""
    if req.schedule_id is not None:
        schedule = await q.get_schedule(conn, req.schedule_id, tenant)
        if schedule is None or schedule["user_id"] != req.user_id:
            raise ApiError(404, "schedule_not_found", f"user {req.user_id} has no schedule {req.schedule_id}",
                           field="schedule_id")
        return schedule
    schedules = await q.list_schedules(conn, user_id=req.user_id, limit=100, tenant=tenant)
    if not schedules:
        raise ApiError(404, "user_not_found", f"user {req.user_id} has no pacing schedule; create one first",
                       field="user_id")
    return next((s for s in schedules if s["active"]), schedules[0])


def _accepted(analysis_id: str, brief: PacingBrief, status: str) -> dict:
    return {"analysis_id": analysis_id, "job_id": analysis_id, "user_id": brief.user_id,
            "local_date": brief.local_date.isoformat(), "status": status}


@routes.get("/v1/pacing/status")
async def status(request: web.Request) -> web.Response:
    """Pending messages and lag of each pacing topic; analyses and generations by status. A key bound to a tenant
    gets its tenant's counts and no topics: their depth and lag are every tenant's work together."""
    tenant = _tenant(request)
    topics = [] if tenant is not None else await _pacing_topics(request)
    async with request.app[POOL].acquire() as conn:
        counts = await q.status_counts(conn, tenant)
    return web.json_response({"topics": topics, **counts})


async def _pacing_topics(request: web.Request) -> list[dict]:
    cfg = request.app[CONFIG]
    targets = [(cfg.topics.stage(s, lane), cfg.topics.group("workers"), {"stage": s.value, "lane": lane.value})
               for s in (Stage.ANALYZE, Stage.WRITE) for lane in Lane]
    targets.append((cfg.topics.pacing_events, cfg.topics.group("projector"), {"stage": None, "lane": None}))
    try:
        depths = await queue_depths(cfg.bootstrap, [(t, g) for t, g, _ in targets])
    except KafkaError as exc:
        raise unavailable("kafka_unavailable", f"queue depth could not be read: {type(exc).__name__}") from None
    return [
        {"topic": t, "group": g, **labels, "pending": d.queue_length, "oldest_msg_age_sec": d.oldest_msg_age_sec,
         "lag": {str(p.partition): p.lag for p in d.partitions}}
        for (t, g, labels), d in zip(targets, depths)
    ]


@routes.get("/v1/pacing/analyses")
async def list_analyses(request: web.Request) -> web.Response:
    user_id = user_id_param(request.query.get("user_id"), required=False)
    limit = limit_param(request)
    async with request.app[POOL].acquire() as conn:
        return web.json_response({"analyses": await q.list_analyses(conn, user_id=user_id, limit=limit,
                                                                    tenant=_tenant(request))})


@routes.get("/v1/pacing/analyses/{analysis_id}")
async def get_analysis(request: web.Request) -> web.Response:
    analysis_id = uuid_param(request.match_info["analysis_id"], "analysis_id")
    pool = request.app[POOL]
    tenant = _tenant(request)

    async def lookup() -> dict | None:
        async with pool.acquire() as conn:
            return await q.get_analysis(conn, analysis_id, tenant)

    # An analysis is a job: its id is the job id, written to job-events by the trigger or the scheduler.
    analysis = await request.app[READS].read(lookup, projection=PacingAnalysesProjection.name,
                                             topic=request.app[CONFIG].topics.job_events, key=key_for(analysis_id),
                                             job_id=str(analysis_id))
    if analysis is None:
        raise ApiError(404, "analysis_not_found", f"no analysis {analysis_id}", field="analysis_id")
    return web.json_response(analysis)


@routes.get("/v1/pacing/generations")
async def list_generations(request: web.Request) -> web.Response:
    user_id = user_id_param(request.query.get("user_id"), required=False)
    analysis_id = uuid_param(request.query.get("analysis_id"), "analysis_id")
    wanted = request.query.get("status")
    if wanted is not None and wanted not in GENERATION_STATUSES:
        raise ApiError(400, "invalid_status", f"status is one of {', '.join(sorted(GENERATION_STATUSES))}", field="status")
    limit = limit_param(request)
    async with request.app[POOL].acquire() as conn:
        generations = await q.list_generations(conn, user_id=user_id, analysis_id=analysis_id, status=wanted, limit=limit,
                                               tenant=_tenant(request))
    return web.json_response({"generations": generations})
