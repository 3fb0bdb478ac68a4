"""The monitor's pages: overview (with its live feed), jobs, a job's timeline, dead letters, projections, submit."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime, timezone
from uuid import UUID

from aiohttp import web
from aiokafka.errors import KafkaError

from api.auth import still_signed_in
from api.errors import ApiError
from api.jobs import job_or_404
from api.operations import dead_letter_or_404
from api.monitor import timeline
from api.monitor.render import fragment, page, render
from api.monitor.state import CLOSING, OVERVIEW
from api.principal import principal_of
from api.params import cursor_param, limit_param, path_uuid, stage_param, uuid_param
from api.state import CONFIG, POOL
from projections import monitor_queries as mq
from projections import queries
from projections.job_status import JobStatus
from streams.depth import queue_depths
from streams.payloads import PIPELINES, JobType, Stage

FEED_SECONDS = 2.0  # how often the overview feed pushes fresh figures

routes = web.RouteTableDef()  # mounted at /monitor


def query(request: web.Request, name: str) -> str | None:
    """A filter from a GET form: an empty field means no filter; text PostgreSQL cannot hold is a 400."""
    raw = request.query.get(name, "").strip()
    if "\x00" in raw:
        raise ApiError(400, f"invalid_{name}", f"{name} holds a NUL character", field=name)
    return raw or None


@page
async def overview_page(request: web.Request) -> web.Response:
    """GET /: the overview, then live over /monitor/events."""
    ov = await request.config_dict[OVERVIEW].get(principal_of(request).tenant)
    return render(request, "overview.html", title="Overview", ov=ov)


@routes.get("/events")
async def events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: `overview` every FEED_SECONDS (the figures and the rendered panel), until the
    client goes, or its key or session is no longer good (checked at each push). Only for a client that asks for an
    event stream (EventSource does): any other gets 406."""
    if "text/event-stream" not in request.headers.get("Accept", ""):
        raise ApiError(406, "not_acceptable", "this is an endless event stream: send Accept: text/event-stream")
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    await resp.write(b"retry: 1000\n\n")  # reconnect within a second after an API restart
    cache, closing = request.config_dict[OVERVIEW], request.config_dict[CLOSING]
    tenant = principal_of(request).tenant
    seq = 0
    while not closing.is_set() and await still_signed_in(request):
        seq += 1
        try:
            ov = await cache.get(tenant)
            data = {"generated_at": ov.generated_at.isoformat(), "kafka_error": ov.kafka_error,
                    "projector_lag": ov.projector_lag, "html": fragment(request, "_overview.html", ov=ov),
                    "stages": [{"stage": s.stage, "lane": s.lane, "queue_length": s.queue_length,
                                "oldest_msg_age_sec": s.oldest_msg_age_sec, "in_flight": s.in_flight,
                                "dead_letters": s.dead_letters, "last_minute": s.last_minute, "alert": s.alert}
                               for s in ov.stages]}
            frame = f"id: {seq}\nevent: overview\ndata: {json.dumps(data)}\n\n"
        except Exception as exc:  # noqa: BLE001 - an outage is shown on the page; the feed goes on
            frame = f"event: problem\ndata: {json.dumps({'message': f'figures unavailable ({type(exc).__name__})'})}\n\n"
        try:
            await resp.write(frame.encode())
        except ConnectionError:
            break
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(closing.wait(), timeout=FEED_SECONDS)
    return resp


@routes.get("/jobs")
@page
async def jobs_page(request: web.Request) -> web.Response:
    status, job_type = query(request, "status"), query(request, "type")
    if status is not None and status not in set(JobStatus):
        raise ApiError(400, "invalid_status", f"unknown status '{status}' ({', '.join(JobStatus)})", field="status")
    if job_type is not None and job_type not in set(JobType):
        raise ApiError(400, "invalid_type", f"unknown type '{job_type}' ({', '.join(JobType)})", field="type")
    filters = {"status": status, "job_type": job_type, "stage": stage_param(query(request, "stage")),
               "requester": query(request, "requester"), "text": query(request, "text")}
    async with request.config_dict[POOL].acquire() as conn:
        jobs, nxt = await mq.search_jobs(conn, **filters, limit=limit_param(request), after=cursor_param(request),
                                         tenant=principal_of(request).tenant)
    shown = {k: v for k, v in request.query.items() if k not in ("cursor",) and v}
    return render(request, "jobs.html", title="Jobs", jobs=jobs, next_cursor=nxt, shown=shown,
                  statuses=list(JobStatus), types=list(JobType), stages=list(Stage), filters=filters)


async def _job_view(request: web.Request, job_id: UUID) -> dict:
    job = await job_or_404(request, job_id)
    async with request.config_dict[POOL].acquire() as conn:
        events = await queries.job_events(conn, job_id)
        outputs = {s: await queries.job_payload(conn, job_id, s) for s in ("export", "markup", "qa")}
        letters = await queries.list_dead_letters(conn, status=None, stage=None, job_id=job_id, limit=20)
    return {"job": job, "events": events, "outputs": outputs, "letters": letters,
            "timeline": timeline.build(events, datetime.now(timezone.utc)),
            "pipeline": [s.value for s in PIPELINES[JobType(job["job_type"])]]}


@routes.get("/jobs/{job_id}")
@page
async def job_page(request: web.Request) -> web.Response:
    view = await _job_view(request, path_uuid(request, "job_id"))
    return render(request, "job.html", title=view["job"]["title"], **view)


@routes.get("/jobs/{job_id}/panel")
@page
async def job_panel(request: web.Request) -> web.Response:
    """The job page's body alone, re-fetched by the page on each event of the job's stream."""
    view = await _job_view(request, path_uuid(request, "job_id"))
    return web.Response(text=fragment(request, "_job.html", **view), content_type="text/html")


@routes.get("/dead-letters")
@page
async def dead_letters_page(request: web.Request) -> web.Response:
    status = query(request, "status")
    if status not in (None, "dead", "redriven"):
        raise ApiError(400, "invalid_status", "status is 'dead' or 'redriven'", field="status")
    stage, job_id = stage_param(query(request, "stage")), uuid_param(query(request, "job_id"), "job_id")
    async with request.config_dict[POOL].acquire() as conn:
        letters = await queries.list_dead_letters(conn, status=status, stage=stage, job_id=job_id,
                                                  limit=limit_param(request, 100, 1000),
                                                  tenant=principal_of(request).tenant)
    return render(request, "dead_letters.html", title="Dead letters", letters=letters, stages=list(Stage),
                  filters={"status": status, "stage": stage, "job_id": job_id})


@routes.get("/dead-letters/{dead_letter_id}")
@page
async def dead_letter_page(request: web.Request) -> web.Response:
    letter = await dead_letter_or_404(request, path_uuid(request, "dead_letter_id"))
    return render(request, "dead_letter.html", title="Dead letter", letter=letter)


@routes.get("/projections")
@page
async def projections_page(request: web.Request) -> web.Response:
    cfg = request.config_dict[CONFIG]
    async with request.config_dict[POOL].acquire() as conn:
        offsets = await mq.projection_offsets(conn)
        runs = await mq.projection_runs(conn)
    ends, kafka_error = {}, None
    topics = sorted({o["topic"] for o in offsets})
    try:
        # Only when there is something to compare: aiokafka's consumer, stopped with nothing assigned right
        # after it started, can raise CancelledError from its stop, which aiohttp takes for a client gone.
        wanted = [(t, cfg.topics.group("projector")) for t in topics]
        for depth in await queue_depths(cfg.bootstrap, wanted) if wanted else []:
            ends |= {(depth.topic, p.partition): p.end for p in depth.partitions}
    except (KafkaError, OSError, asyncio.TimeoutError) as exc:
        kafka_error = f"Kafka could not be read ({type(exc).__name__}): lag unknown"
    rows: dict[tuple[str, str], dict] = {}
    for o in offsets:
        row = rows.setdefault((o["projection"], o["topic"]), {"projection": o["projection"], "topic": o["topic"],
                                                              "position": 0, "end": 0, "lag": 0, "updated_at": None})
        end = ends.get((o["topic"], o["partition"]))
        row["position"] += o["next_offset"]
        row["end"] = None if end is None or row["end"] is None else row["end"] + end
        row["lag"] = None if row["end"] is None else max(0, row["end"] - row["position"])
        row["updated_at"] = max(filter(None, (row["updated_at"], o["updated_at"])))
    return render(request, "projections.html", title="Projections", rows=list(rows.values()), runs=runs,
                  kafka_error=kafka_error)


@routes.get("/submit")
@page
async def submit_page(request: web.Request) -> web.Response:
    return render(request, "submit.html", title="Submit a job",
                  types=[t for t in JobType if t is not JobType.PACING])
