"""The HTTP contract, declared once per route: summary, parameters, request body model and response models.

api/openapi.py renders it; tests/integration/test_api_contract.py holds every route of the app to it (each
route declared, each handler validating the body model declared here, each answer parsing as its model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from api import responses as r
from api.pacing_requests import KnowledgeCreate, MeetingCreate, ScheduleCreate, SchedulePatch, TriggerRequest
from api.principal import Role
from api.requests import IntakeRequest, KeyCreate, SignIn
from projections.job_status import JobStatus
from streams.pacing_payloads import UserId
from streams.payloads import Stage

Location = Literal["path", "query", "header"]

# Who may call a route: anyone (PUBLIC), or a key whose role allows the declared one (api/principal.py).
PUBLIC = "public"
Access = Role | Literal["public"]


@dataclass(frozen=True)
class Param:
    """A path, query or header parameter; `type` is a Python type whose JSON schema pydantic derives."""

    name: str
    where: Location
    type: Any
    description: str
    required: bool = False


@dataclass(frozen=True)
class Reply:
    """One documented answer: JSON of `model`, or another media type described by `schema`."""

    description: str
    model: type[BaseModel] | None = None
    media_type: str = "application/json"
    schema: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # "validation" documents the wire form of a model that parses it (StreamFrame's data is a JSON string).
    mode: Literal["serialization", "validation"] = "serialization"


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    responses: dict[int, Reply]
    body: type[BaseModel] | None = None
    params: tuple[Param, ...] = ()
    description: str = ""
    # Routes that read PostgreSQL or write Kafka answer 503 (with Retry-After) while it is unreachable.
    needs_dependencies: bool = True
    # The least role a key needs, or PUBLIC. Left out, the route is undeclared: the API lets only an admin key
    # through (it fails closed) and tests/integration/test_api_contract.py fails.
    access: Access | None = None
    # The route confines a key bound to a tenant to that tenant's data (and a submitter to its own jobs); a route
    # without it refuses such keys (403 tenant_not_supported) rather than show them every tenant's.
    tenants: bool = False
    # The route submits work (a job, a pacing user's data) or offers to: a reader key, which only reads, may not
    # call it though its role ranks above the submitter's (api/principal.py).
    submits: bool = False
    # Each key may call it at most PLANPERFECT_INTAKE_RATE_PER_KEY times a second (bursts of _BURST_PER_KEY); past
    # that, 429 with Retry-After. Set on the routes that submit work; they share the key's one bucket.
    rate_limited: bool = False


def error(description: str, **headers: str) -> Reply:
    return Reply(description, r.Error, headers=headers)


def limit(default: int, most: int) -> Param:
    return Param("limit", "query", Annotated[int, Field(ge=1, le=most, json_schema_extra={"default": default})],
                 f"Page size, 1..{most} (default {default}).")


def path_id(name: str, what: str) -> Param:
    return Param(name, "path", UUID, f"The {what}'s id.", required=True)


LOCATION = {"Location": "Where the new resource can be read."}
IDEMPOTENCY_KEY = Param(
    "Idempotency-Key", "header", Annotated[str, Field(min_length=1, max_length=200)],
    "Repeat a write safely: the same key, sent with the same API key, names the same resource (for jobs, the "
    "existing job is answered with 200; a pacing write, as the first one was). Send it on every retry after a timeout "
    "or a 503, with the same body: the key sent again with another body is refused with 422 "
    "`idempotency_key_reused`.")
USER_ID_PATH = Param("user_id", "path", UserId, "The user the context belongs to.", required=True)
USER_ID_QUERY = Param("user_id", "query", UserId, "Only this user's.")
GENERATION_STATUS = Literal["pending", "running", "retrying", "completed", "dead_lettered", "cancelled"]

BAD_ID = error("A malformed id or parameter (named in `field`)")
BAD_JSON = error("Malformed JSON or header")
USER_TAKEN = error("The user_id belongs to another tenant (user ids are one namespace across tenants), or to a tenant "
                   "while the key is bound to none and is below operator")
NOT_JSON = error("Content-Type is not application/json")
TOO_LARGE = error("Body larger than the configured maximum")
INVALID = error("A field is invalid: `field` names it, `details` lists every problem")
RATE_LIMITED = error("This key submitted more than its rate allows", **{
    "Retry-After": "Seconds until the key may submit again."})

_INTAKE = Operation(
    "Submit a content job", "jobs", access=Role.SUBMITTER, submits=True, tenants=True, rate_limited=True, body=IntakeRequest, params=(IDEMPOTENCY_KEY,),
    description="Writes JobSubmitted to the log and answers at once; the job then runs stage by stage.",
    responses={202: Reply("The job is on the log", r.JobAccepted, headers=LOCATION),
               200: Reply("Same Idempotency-Key as an earlier job: that job", r.JobAccepted, headers=LOCATION),
               400: BAD_JSON, 413: TOO_LARGE, 415: NOT_JSON, 422: INVALID, 429: RATE_LIMITED})

STREAM_DESCRIPTION = """Server-Sent Events: each event of the job as `id: <sequence>`, `event: <type>`,
`data: <the event as JSON>`, live, until the job ends, or the key (or monitor session) is revoked or ended: checked
at least every PLANPERFECT_API_KEY_CACHE_SECONDS (a `: keep-alive` comment then, at least every 15 s). A
StageCompleted carries `output_ref` (`kind` and the `href` of GET /v1/jobs/{job_id}/payloads/{stage})
instead of the stage's output, unless `include_output=true`. Resume with the Last-Event-ID header."""

def _page(summary: str, *params: Param, tenants: bool, missing: str | None = None, access: Access = Role.READER,
          description: str = "", submits: bool = False) -> Operation:
    """A monitor page: HTML for people. A bad parameter is the API's JSON error, or an HTML page for a browser.
    `tenants`: the page shows a key bound to a tenant that tenant's data only (else it refuses such a key, with an
    HTML page for a browser)."""
    responses = {200: Reply("HTML", media_type="text/html", schema={"type": "string"})}
    if params:
        responses[400] = BAD_ID
    if missing:
        responses[404] = error(missing)
    return Operation(summary, "monitor", params=params, responses=responses, access=access, tenants=tenants,
                     description=description, submits=submits)


def _filter(name: str, what: str) -> Param:
    return Param(name, "query", str, what)


OVERVIEW_SCOPE = ("A key bound to a tenant sees its tenant's stage activity, attempts in flight and dead letters, "
                  "and no queue, delay-tier or log-consumer figures: Kafka's are the whole deployment's.")

MONITOR_PAGES = {
    ("GET", "/monitor/jobs"): _page(
        "Monitor: jobs, filtered, newest first", _filter("status", "A job status."), _filter("type", "A job type."),
        _filter("stage", "A stage."), _filter("requester", "The requester's email."),
        _filter("text", "Text in the title."), limit(50, 500), _filter("cursor", "Where the previous page ended."),
        tenants=True),
    ("GET", "/monitor/jobs/{job_id}"): _page(
        "Monitor: a job's timeline, events and outputs", path_id("job_id", "job"), missing="Unknown job",
        tenants=True, access=Role.SUBMITTER,
        description="A submitter sees the jobs it submitted (another's is a 404, as in GET /v1/jobs/{job_id})."),
    ("GET", "/monitor/jobs/{job_id}/panel"): _page(
        "Monitor: the job page's body (re-fetched live)", path_id("job_id", "job"), missing="Unknown job",
        tenants=True, access=Role.SUBMITTER),
    ("GET", "/monitor/dead-letters"): _page(
        "Monitor: dead letters, with redrive", _filter("status", "dead or redriven."), _filter("stage", "A stage."),
        Param("job_id", "query", UUID, "Only this job's."), limit(100, 1000), tenants=True),
    ("GET", "/monitor/dead-letters/{dead_letter_id}"): _page(
        "Monitor: one dead letter in full", path_id("dead_letter_id", "dead letter"), missing="Unknown dead letter",
        tenants=True),
    ("GET", "/monitor/pacing"): _page(
        "Monitor: pacing schedules, analyses, generations", _filter("user_id", "Only this user."), tenants=True,
        description="A key bound to a tenant sees its tenant's users, and counts of their analyses and pieces."),
    ("GET", "/monitor/pacing/chunks/{chunk_id}"): _page(
        "Monitor: a cited context chunk", path_id("chunk_id", "context chunk"), missing="Unknown chunk",
        tenants=True),
    ("GET", "/monitor/projections"): _page(
        "Monitor: projection positions and lag", tenants=False,
        description="The read model's positions on the log and its rebuild runs belong to no tenant."),
    ("GET", "/monitor/submit"): _page(
        "Monitor: a form to submit a job", access=Role.SUBMITTER, tenants=True, submits=True,
        description="The form sends POST /v1/jobs with the signed-in key: the job carries that key's tenant."),
    ("GET", "/monitor/sign-in"): _page(
        "Monitor: sign in with an API key", _filter("next", "The monitor page to go to once signed in."),
        _filter("ended", "1: say that the monitor session has ended or expired."), access=PUBLIC, tenants=False),
}

KEY_ID = Param("key_id", "path", Annotated[str, Field(pattern=r"^[0-9a-f]{12}$")], "The key's public id.",
               required=True)

ACCESS_ROUTES = {
    ("POST", "/monitor/session"): Operation(
        "Sign the monitor in: a session named by an HttpOnly, SameSite=Strict cookie", "monitor", access=PUBLIC,
        body=SignIn,
        description="The key is checked once and not kept: the cookie holds a random session id (stored hashed), "
                    "which ends at sign-out, at the browser's next sign-in, when the key is revoked or has 20 newer "
                    "sessions, or after PLANPERFECT_MONITOR_SESSION_HOURS. A session acts as its key's role, at most "
                    "operator (an admin key signs in as an operator; `role` says which), and a write it "
                    "authenticates must come from the monitor's own page (Sec-Fetch-Site: same-origin or this "
                    "site's Origin).",
        responses={200: Reply("Signed in as this key", r.Session, headers={"Set-Cookie": "The session cookie."}),
                   400: BAD_JSON, 401: error("Unknown or revoked key"), 413: TOO_LARGE, 415: NOT_JSON,
                   422: INVALID}),
    ("DELETE", "/monitor/session"): Operation(
        "Sign the monitor out (ends the session, clears the cookie)", "monitor", access=PUBLIC,
        responses={200: Reply("Signed out", r.SignedOut)}),
    ("GET", "/v1/keys"): Operation(
        "List API keys (never their secrets)", "access", access=Role.ADMIN,
        responses={200: Reply("Every key, revoked ones too", r.ApiKeys)}),
    ("POST", "/v1/keys"): Operation(
        "Create an API key", "access", access=Role.ADMIN, body=KeyCreate,
        description="The answer is the only time the key is shown: only its hash is stored. The change is a "
                    "KeyCreated fact on the access-events topic naming who made it.",
        responses={201: Reply("The key, with its secret", r.ApiKeyCreated), 400: BAD_JSON, 413: TOO_LARGE,
                   415: NOT_JSON, 422: INVALID}),
    ("POST", "/v1/keys/{key_id}/revoke"): Operation(
        "Revoke an API key", "access", access=Role.ADMIN, params=(KEY_ID,),
        description="Refused from then on (each API process checks a key again after "
                    "PLANPERFECT_API_KEY_CACHE_SECONDS at most). Revoking a revoked key answers it unchanged.",
        responses={200: Reply("The key, revoked", r.ApiKey), 400: BAD_ID, 404: error("Unknown key")}),
}

CONTRACT: dict[tuple[str, str], Operation] = {
    ("GET", "/healthz"): Operation("Liveness", "health", access=PUBLIC, needs_dependencies=False,
                                   responses={200: Reply("The process is up", r.Alive)}),
    ("GET", "/readyz"): Operation(
        "Readiness: Kafka and PostgreSQL reachable, the model provider usable", "health", access=PUBLIC,
        responses={200: Reply("All answer", r.Ready),
                   503: Reply("Not ready, with the reason per dependency", r.NotReady,
                              headers={"Retry-After": "Seconds to wait before asking again."})}),
    ("GET", "/openapi.json"): Operation(
        "This OpenAPI document", "docs", access=PUBLIC, needs_dependencies=False,
        responses={200: Reply("OpenAPI 3.1", schema={"type": "object"})}),
    ("GET", "/docs"): Operation(
        "API reference (Swagger UI, served offline)", "docs", access=PUBLIC, needs_dependencies=False,
        responses={200: Reply("HTML", media_type="text/html", schema={"type": "string"})}),
    ("GET", "/docs/"): Operation(
        "API reference (Swagger UI, served offline)", "docs", access=PUBLIC, needs_dependencies=False,
        responses={200: Reply("HTML", media_type="text/html", schema={"type": "string"})}),
    ("GET", "/"): Operation(
        "The web monitor's overview (HTML); its other pages are under /monitor/", "monitor", access=Role.READER,
        tenants=True, description=OVERVIEW_SCOPE,
        responses={200: Reply("HTML", media_type="text/html", schema={"type": "string"})}),
    **MONITOR_PAGES,
    **ACCESS_ROUTES,
    ("GET", "/monitor/events"): Operation(
        "The monitor's live overview (Server-Sent Events)", "monitor", access=Role.READER, tenants=True,
        description="Every 2 s an `overview` event: the figures as JSON and the rendered panel. Endless, so it "
                    "answers only a client that sends `Accept: text/event-stream` (EventSource does). "
                    + OVERVIEW_SCOPE,
        responses={200: Reply("`overview` events", media_type="text/event-stream", schema={"type": "string"}),
                   406: error("The client does not accept an event stream")}),
    ("GET", "/metrics"): Operation(
        "Figures for Prometheus: per stage and lane counters, durations, queues; projector lag", "monitor", access=Role.READER,
        responses={200: Reply("Prometheus text format 0.0.4", media_type="text/plain", schema={"type": "string"})}),
    ("POST", "/content-intake"): _INTAKE,
    ("POST", "/v1/jobs"): _INTAKE,
    ("GET", "/content-intake/{job_id}"): Operation(
        "A job's status as the seed's client polls it", "jobs", access=Role.SUBMITTER, tenants=True, params=(path_id("job_id", "job"),),
        description="`status` is queued, processing, completed or failed; a seed client polls until completed "
                    "or failed. A dead-lettered or cancelled job is `failed` with `failure` saying why.",
        responses={200: Reply("The job's status", r.SeedJobStatus), 400: BAD_ID, 404: error("Unknown job")}),
    ("GET", "/v1/jobs"): Operation(
        "List jobs, newest first (a submitter's own)", "jobs", access=Role.SUBMITTER, tenants=True,
        params=(Param("status", "query", JobStatus, "Only jobs in this status."),
                Param("stage", "query", Stage, "Only jobs at this stage."), limit(50, 500),
                Param("cursor", "query", str, "`next_cursor` of the previous page.")),
        responses={200: Reply("A page of jobs", r.JobPage), 400: BAD_ID}),
    ("GET", "/v1/jobs/{job_id}"): Operation(
        "A job with its stages and its model usage", "jobs", access=Role.SUBMITTER, tenants=True,
        params=(path_id("job_id", "job"),),
        responses={200: Reply("The job", r.Job), 400: BAD_ID, 404: error("Unknown job")}),
    ("GET", "/v1/jobs/{job_id}/events"): Operation(
        "A job's events in sequence order", "jobs", access=Role.SUBMITTER, tenants=True, params=(path_id("job_id", "job"),),
        responses={200: Reply("The events", r.JobEvents), 400: BAD_ID, 404: error("Unknown job")}),
    ("GET", "/v1/jobs/{job_id}/payloads/{stage}"): Operation(
        "A stage's output", "jobs", access=Role.SUBMITTER, tenants=True,
        params=(path_id("job_id", "job"), Param("stage", "path", Stage, "The stage.", required=True)),
        responses={200: Reply("The output", r.StagePayload), 400: BAD_ID,
                   404: error("Unknown job, or the stage has no output (yet)")}),
    ("GET", "/v1/jobs/{job_id}/result"): Operation(
        "The finished content: Markdown, HTML and JSON-LD", "jobs", access=Role.SUBMITTER, tenants=True, params=(path_id("job_id", "job"),),
        responses={200: Reply("The result", r.JobResult), 400: BAD_ID, 404: error("Unknown job"),
                   409: error("The job has not completed")}),
    ("GET", "/v1/jobs/{job_id}/stream"): Operation(
        "Follow a job live (Server-Sent Events)", "jobs", access=Role.SUBMITTER, tenants=True, description=STREAM_DESCRIPTION,
        params=(path_id("job_id", "job"),
                Param("include_output", "query", bool, "Send each StageCompleted with its whole output."),
                Param("Last-Event-ID", "header", Annotated[int, Field(ge=0, le=2**31 - 1)],
                      "Resume after the event with this sequence.")),
        responses={200: Reply("The job's events, each one Server-Sent Event", r.StreamFrame,
                              media_type="text/event-stream", mode="validation"),
                   400: BAD_ID, 404: error("Unknown job")}),
    ("POST", "/v1/jobs/{job_id}/cancel"): Operation(
        "Cancel a job", "jobs", access=Role.OPERATOR, tenants=True, params=(path_id("job_id", "job"),),
        responses={202: Reply("Cancellation requested", r.CancelAccepted), 400: BAD_ID,
                   404: error("Unknown job"), 409: error("The job has already finished")}),
    ("GET", "/v1/dlq"): Operation(
        "List dead letters, newest first", "operations", access=Role.READER, tenants=True,
        params=(Param("status", "query", Literal["dead", "redriven"], "Only these."),
                Param("stage", "query", Stage, "Only this stage's."),
                Param("job_id", "query", UUID, "Only this job's."), limit(100, 1000)),
        responses={200: Reply("Dead letters", r.DeadLetters), 400: BAD_ID}),
    ("GET", "/v1/dlq/{dead_letter_id}"): Operation(
        "A dead letter with its original message", "operations", access=Role.READER, tenants=True, params=(path_id("dead_letter_id", "dead letter"),),
        responses={200: Reply("The dead letter", r.DeadLetterDetail), 400: BAD_ID, 404: error("Unknown dead letter")}),
    ("POST", "/v1/dlq/{dead_letter_id}/redrive"): Operation(
        "Redrive a dead-lettered job", "operations", access=Role.OPERATOR, tenants=True, params=(path_id("dead_letter_id", "dead letter"),),
        description="Back to the failed stage with fresh attempts; the dead letter is kept and marked redriven.",
        responses={202: Reply("Redrive requested", r.RedriveAccepted), 400: BAD_ID,
                   404: error("Unknown dead letter"), 409: error("Already redriven, or not a job")}),
    ("GET", "/v1/usage"): Operation(
        "Model calls, tokens and cost per day", "operations", access=Role.READER, tenants=True,
        description="Summed from every stage attempt's recorded model calls (StageCompleted and StageFailed), per "
                    "UTC day from `from` to `to` (both included; days without a call are left out), optionally "
                    "split by provider, provider and model, or pacing user. The offline provider makes no calls. "
                    "A key bound to a tenant counts the calls of its tenant's jobs only.",
        params=(Param("from", "query", date, "First day, YYYY-MM-DD (default: 29 days before `to`)."),
                Param("to", "query", date, "Last day, YYYY-MM-DD (default: today, UTC)."),
                Param("group_by", "query", Literal["provider", "model", "user"],
                      "Split each day by provider, by provider and model, or by pacing user."),
                USER_ID_QUERY),
        responses={200: Reply("Usage per day and in total", r.UsageReport),
                   400: error("A malformed date or parameter, or `to` before `from` (named in `field`)")}),
    ("GET", "/v1/queues"): Operation(
        "Queue depth per topic and consumer group", "operations", access=Role.READER,
        responses={200: Reply("Depths", r.Queues)}),
    ("POST", "/v1/pacing/schedules"): Operation(
        "Create a pacing schedule", "pacing", access=Role.SUBMITTER, submits=True, tenants=True, rate_limited=True, body=ScheduleCreate,
        params=(IDEMPOTENCY_KEY,),
        responses={202: Reply("The schedule is on the log", r.ScheduleAccepted, headers=LOCATION),
                   400: BAD_JSON, 409: USER_TAKEN, 413: TOO_LARGE, 415: NOT_JSON, 422: INVALID,
                   429: RATE_LIMITED}),
    ("GET", "/v1/pacing/schedules"): Operation(
        "List schedules, oldest first", "pacing", access=Role.READER, tenants=True, params=(USER_ID_QUERY, limit(50, 500)),
        responses={200: Reply("Schedules", r.Schedules), 400: BAD_ID}),
    ("GET", "/v1/pacing/schedules/{schedule_id}"): Operation(
        "A schedule", "pacing", access=Role.READER, tenants=True, params=(path_id("schedule_id", "schedule"),),
        responses={200: Reply("The schedule", r.Schedule), 400: BAD_ID, 404: error("Unknown schedule")}),
    ("PATCH", "/v1/pacing/schedules/{schedule_id}"): Operation(
        "Change a schedule", "pacing", access=Role.OPERATOR, tenants=True, body=SchedulePatch, params=(path_id("schedule_id", "schedule"),),
        responses={202: Reply("The change is on the log", r.ScheduleAccepted), 400: BAD_JSON,
                   404: error("Unknown schedule"), 409: USER_TAKEN, 413: TOO_LARGE, 415: NOT_JSON, 422: INVALID}),
    ("DELETE", "/v1/pacing/schedules/{schedule_id}"): Operation(
        "Delete a schedule", "pacing", access=Role.OPERATOR, tenants=True, params=(path_id("schedule_id", "schedule"),),
        responses={202: Reply("The deletion is on the log", r.ScheduleDeletion), 400: BAD_ID,
                   404: error("Unknown schedule"), 409: USER_TAKEN}),
    ("POST", "/v1/users/{user_id}/knowledge"): Operation(
        "Add a knowledge document", "pacing", access=Role.SUBMITTER, submits=True, tenants=True, rate_limited=True, body=KnowledgeCreate,
        params=(USER_ID_PATH, IDEMPOTENCY_KEY),
        responses={202: Reply("The document is on the log", r.DocumentAccepted), 400: BAD_JSON, 409: USER_TAKEN,
                   413: TOO_LARGE, 415: NOT_JSON, 422: INVALID, 429: RATE_LIMITED}),
    ("GET", "/v1/users/{user_id}/knowledge"): Operation(
        "List a user's knowledge documents, newest first", "pacing", access=Role.READER, tenants=True, params=(USER_ID_PATH, limit(100, 1000)),
        responses={200: Reply("Documents", r.Documents), 400: BAD_ID}),
    ("POST", "/v1/users/{user_id}/meetings"): Operation(
        "Add meeting notes or a transcript", "pacing", access=Role.SUBMITTER, submits=True, tenants=True, rate_limited=True, body=MeetingCreate,
        params=(USER_ID_PATH, IDEMPOTENCY_KEY),
        responses={202: Reply("The meeting is on the log", r.MeetingAccepted), 400: BAD_JSON, 409: USER_TAKEN,
                   413: TOO_LARGE, 415: NOT_JSON, 422: INVALID, 429: RATE_LIMITED}),
    ("GET", "/v1/users/{user_id}/meetings"): Operation(
        "List a user's meetings, latest first", "pacing", access=Role.READER, tenants=True, params=(USER_ID_PATH, limit(100, 1000)),
        responses={200: Reply("Meetings", r.Meetings), 400: BAD_ID}),
    ("POST", "/v1/pacing/trigger"): Operation(
        "Analyse a user's context for today, now", "pacing", access=Role.OPERATOR, tenants=True, rate_limited=True, body=TriggerRequest,
        responses={202: Reply("Today's analysis is on the log", r.AnalysisAccepted, headers=LOCATION),
                   200: Reply("Today already has an analysis: that one", r.AnalysisAccepted, headers=LOCATION),
                   400: BAD_JSON, 404: error("Unknown user or schedule"), 409: USER_TAKEN, 413: TOO_LARGE, 415: NOT_JSON,
                   422: INVALID, 429: RATE_LIMITED}),
    ("GET", "/v1/pacing/status"): Operation(
        "Pacing queues, analyses and generations by status", "pacing", access=Role.READER, tenants=True,
        description="A key bound to a tenant gets the counts of its tenant's users only, and no `topics`: the "
                    "pacing topics' depth and lag are the whole deployment's.",
        responses={200: Reply("Pending messages and lag per pacing topic; counts", r.PacingStatus)}),
    ("GET", "/v1/pacing/analyses"): Operation(
        "List analyses, latest date first", "pacing", access=Role.READER, tenants=True, params=(USER_ID_QUERY, limit(50, 500)),
        responses={200: Reply("Analyses", r.Analyses), 400: BAD_ID}),
    ("GET", "/v1/pacing/analyses/{analysis_id}"): Operation(
        "An analysis with its suggestions", "pacing", access=Role.READER, tenants=True, params=(path_id("analysis_id", "analysis"),),
        responses={200: Reply("The analysis", r.Analysis), 400: BAD_ID, 404: error("Unknown analysis")}),
    ("GET", "/v1/pacing/generations"): Operation(
        "List generated pieces, newest first", "pacing", access=Role.READER, tenants=True,
        params=(USER_ID_QUERY, Param("analysis_id", "query", UUID, "Only this analysis's."),
                Param("status", "query", GENERATION_STATUS, "Only pieces in this status."), limit(50, 500)),
        responses={200: Reply("Generated pieces with their sources", r.GenerationList), 400: BAD_ID}),
}
