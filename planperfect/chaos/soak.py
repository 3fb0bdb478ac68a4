"""`planperfect soak`: a local stack and real processes of its own, jobs submitted while blows land, then the verdict.

Two workers, the projector and the API run as real `planperfect` processes on a Kafka broker and a PostgreSQL
cluster the soak starts for itself (free ports, a temporary data directory): it never touches a configured
cluster or the user's local stack. While a client submits jobs through the HTTP API, the schedule's blows land:
a process SIGKILLed and replaced, the broker SIGKILLed and started again, PostgreSQL SIGKILLed and held down. Then
every accepted job must end, and the log and the read model are judged (planperfect.chaos.verdict).
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import aiohttp
import asyncpg

from planperfect.stack.ports import free_port, free_port_pair
from planperfect.chaos.crew import Crew
from planperfect.chaos.intake import Intake
from planperfect.chaos.ledger import logged_events
from planperfect.chaos.schedule import PROCESS_BLOWS, Blow, Moment, Plan, schedule
from planperfect.chaos.verdict import TERMINAL_STATUSES, Verdict, judge, longest_stall, read_model
from planperfect.api_key import new_key
from planperfect.processes import child_env
from planperfect.settings import Settings

Echo = Callable[[str], None]
READY_TIMEOUT_S = 120.0
PROGRESS_EVERY_S = 10.0
OUTAGE_POLL_S = 1.0
SERVICE_GONE_S = 15.0
REFUSAL_SLACK_S = 15.0  # a 503 this soon after a dependency came back is still the outage's (clients reconnect)


class SoakError(RuntimeError):
    """The soak could not go on (a process that never started, a service that would not die); the message says
    what, and where its logs are."""


@dataclass(frozen=True)
class SoakConfig:
    plan: Plan = field(default_factory=Plan)
    rate: float = 2.0  # jobs submitted per second
    workers: int = 2
    # The simulated provider's calls take a while (median, p99), as a model's do: kills land on calls in flight.
    latency_ms: float = 1000.0
    latency_p99_ms: float = 3000.0
    drain_timeout: float = 600.0  # longest wait, after the last blow, for every accepted job to end
    keep: bool = False  # keep the data directory (stack, logs) even when the verdict passes


@dataclass
class SoakReport:
    verdict: Verdict | None = None
    blows: Counter = field(default_factory=Counter)  # Blow -> how many landed
    intake: Intake = field(default_factory=Intake)
    outages: list[tuple[Blow, float, float]] = field(default_factory=list)  # (what, down at, back at) monotonic
    readyz_in_outage: Counter = field(default_factory=Counter)  # /readyz status while PostgreSQL was down (0: none)
    own_exits: int = 0
    intake_began: datetime | None = None
    longest_stall: tuple[float, float] = (0.0, 0.0)  # seconds, and when (seconds after the blows began)
    seconds: float = 0.0
    drained: bool = False
    data_dir: Path | None = None
    story: str = ""

    @property
    def ok(self) -> bool:
        return self.verdict is not None and self.verdict.ok

    def refused_in_outages(self) -> int:
        return self.intake.refused_during([(lo, hi) for _, lo, hi in self.outages], REFUSAL_SLACK_S)


def own_settings(base: Settings, data_dir: Path) -> Settings:
    """The soak's deployment: a local stack on free ports under `data_dir`, whatever cluster `base` names."""
    return base.model_copy(update={
        "kafka_bootstrap": None, "database_url": None, "data_dir": data_dir, "kafka_port": free_port_pair(),
        "postgres_port": free_port(), "api_host": "127.0.0.1", "api_port": free_port(), "topic_prefix": "soak.",
    })


async def run_soak(base: Settings, config: SoakConfig, say: Echo) -> SoakReport:
    """Run the whole soak and return its report; the stack is stopped and, unless the verdict fails or
    `config.keep`, its data directory removed."""
    from planperfect.stack import LocalStack

    began = time.monotonic()
    data = Path(tempfile.mkdtemp(prefix="planperfect-soak-"))
    data.chmod(0o711)  # as root PostgreSQL runs as its own account (planperfect-pg), which must enter every directory above its data
    settings = own_settings(base, data)
    stack = LocalStack(settings, echo=lambda line: say(f"stack: {line}"))
    report = SoakReport(data_dir=data)
    crew = Crew({}, data / "logs")
    try:
        await asyncio.to_thread(stack.up)
        # After up: the children's URLs carry the credentials the stack generated on its first start.
        crew.env = child_env(settings) | {
            "PLANPERFECT_PROVIDER": "simulated", "PLANPERFECT_SIMULATED_LATENCY_MS": str(config.latency_ms),
            "PLANPERFECT_SIMULATED_LATENCY_P99_MS": str(config.latency_p99_ms), "PYTHONUNBUFFERED": "1"}
        await _prepare(settings)
        _, key = await new_key(settings, name="soak intake", role="submitter", actor="soak")
        report.intake.headers = {"Authorization": f"Bearer {key}"}
        for role in ["worker"] * config.workers + ["projector", "api"]:
            crew.start(role)
        base_url = f"http://{settings.api_host}:{settings.api_port}"
        await _first_job_ends(base_url, settings.database(), crew, report.intake)
        say(f"ready: {config.workers} workers, projector and API on {base_url}; data in {data}")
        await Chaos(settings, config, stack, crew, report, say).run(base_url)
        report.drained = await _drain(settings.database(), list(report.intake.accepted), config.drain_timeout,
                                      crew, say)
        crew.stop()
        events = await logged_events(settings.kafka(), settings.topics())
        report.verdict = judge(events, report.intake.accepted, await read_model(settings.database()))
        report.story = "" if report.verdict.ok else report.verdict.story(events)
        report.own_exits = len(crew.own_exits)
        report.longest_stall = longest_stall([t for t in report.verdict.ended_at if t >= report.intake_began],
                                             report.intake_began)
    finally:
        crew.stop()
        await asyncio.to_thread(stack.down)
        report.seconds = time.monotonic() - began
        if report.ok and not config.keep:
            shutil.rmtree(data, ignore_errors=True)
            report.data_dir = None
        elif report.verdict is None:
            say(f"stopped before the verdict; the stack's data and the processes' logs are kept in {data}")
    return report


async def _prepare(settings: Settings) -> None:
    from planperfect.bench.deployment import wait_for_topics
    from planperfect.migrate import migrate
    from planperfect.topic_admin import ensure_topics

    await migrate(settings.database())
    await ensure_topics(settings.kafka(), settings.topic_prefix, settings.partitions)
    await wait_for_topics(settings.kafka(), [name for name, _ in settings.topics().all()])


async def _first_job_ends(base_url: str, dsn: str, crew: Crew, soak_intake: Intake) -> None:
    """Until the API is ready and one job has gone through the whole pipeline: the blows start on a system
    that works. The job joins `accepted`; the refusals while the API started are not the soak's figures."""
    intake = Intake(headers=soak_intake.headers)
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10), headers=intake.headers) as http:
        job_id = None
        while job_id is None or await _ended(dsn, [job_id]) < 1:
            crew.tend()
            if crew.own_exits:
                e = crew.own_exits[0]
                raise SoakError(f"{e.name} exited with code {e.code} before the soak began "
                                   f"(see {crew.log_dir / (e.name + '.log')})")
            if job_id is None:
                job_id = await intake.submit_one(http, base_url, 0)
            if time.monotonic() > deadline:
                raise SoakError(f"no job went through the pipeline within {READY_TIMEOUT_S:.0f}s "
                                   f"(logs in {crew.log_dir})")
            await asyncio.sleep(0.5)  # poll interval of a deadline-bound wait
    soak_intake.accepted.update(intake.accepted)


async def _ended(dsn: str, job_ids: list[str]) -> int:
    """How many of `job_ids` the read model shows ended; 0 while PostgreSQL does not answer."""
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return 0
    try:
        return await conn.fetchval("SELECT count(*) FROM content_jobs WHERE job_id = ANY($1::uuid[]) "
                                   "AND status = ANY($2::text[])", job_ids, list(TERMINAL_STATUSES))
    finally:
        await conn.close()


async def _drain(dsn: str, job_ids: list[str], timeout: float, crew: Crew, say: Echo) -> bool:
    """Until every accepted job has ended in the read model, or `timeout`; True when they all did."""
    began = shown = time.monotonic()
    while True:
        crew.tend()
        done = await _ended(dsn, job_ids)
        now = time.monotonic()
        if done == len(job_ids):
            say(f"drain: all {done} accepted jobs ended, {now - began:.0f} s after the submissions stopped")
            return True
        if now - began > timeout:
            say(f"drain: {len(job_ids) - done} of {len(job_ids)} accepted jobs not ended {timeout:.0f} s after the "
                "submissions stopped")
            return False
        if now - shown >= PROGRESS_EVERY_S:
            say(f"drain: {done}/{len(job_ids)} accepted jobs ended")
            shown = now
        await asyncio.sleep(1.0)  # poll interval of a deadline-bound wait


class Chaos:
    """The blows of one run, in two lanes: processes (kill and replace) and the stack (broker, PostgreSQL), while
    a client submits jobs and the crew is tended."""

    def __init__(self, settings: Settings, config: SoakConfig, stack, crew: Crew, report: SoakReport, say: Echo):
        self.settings, self.config, self.stack, self.crew, self.report, self.say = (
            settings, config, stack, crew, report, say)
        self.rng = random.Random(config.plan.seed + 1)  # which process of a role: its own stream of the seed
        self.moments = schedule(config.plan)
        self.began = 0.0

    async def run(self, base_url: str) -> None:
        self.began = time.monotonic()
        self.report.intake_began = datetime.now(timezone.utc)
        stop = asyncio.Event()
        submitting = asyncio.create_task(self.report.intake.submit_until(base_url, self.config.rate, stop))
        tending = asyncio.create_task(self._tend(stop))
        try:
            async with asyncio.TaskGroup() as lanes:  # a lane that fails stops the others
                lanes.create_task(self._lane([m for m in self.moments if m.blow in PROCESS_BLOWS], self._process_blow))
                lanes.create_task(self._lane([m for m in self.moments if m.blow not in PROCESS_BLOWS],
                                             lambda m: self._stack_blow(m, base_url)))
                lanes.create_task(self._until(self.config.plan.duration))
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None  # the lane's own error, said in one line by the command
        finally:
            stop.set()
            await asyncio.gather(submitting, tending)

    async def _until(self, at: float) -> None:
        """Wait for the plan's moment `at` (seconds after the start): the pace of the schedule, not a sync."""
        await asyncio.sleep(max(0.0, self.began + at - time.monotonic()))

    def _clock(self) -> str:
        return f"[{time.monotonic() - self.began:5.0f} s]"

    def _figures(self) -> str:
        i = self.report.intake
        return f"{len(i.accepted)} accepted, {len(i.refused_503)} intake 503s, {i.unreachable} unanswered"

    async def _lane(self, moments: list[Moment], blow) -> None:
        for m in moments:
            await self._until(m.at)
            await blow(m)

    async def _process_blow(self, m: Moment) -> None:
        killed = await self.crew.kill(m.blow.value, self.rng)
        if killed is None:
            self.say(f"{self._clock()} no {m.blow} running to kill (one is restarting)")
            return
        self.report.blows[m.blow] += 1
        name, pid, replacement = killed
        self.say(f"{self._clock()} SIGKILL {name} (pid {pid}), replaced by {replacement}; {self._figures()}")

    async def _stack_blow(self, m: Moment, base_url: str) -> None:
        service = "kafka" if m.blow is Blow.BROKER else "postgres"
        pid = getattr(self.stack.status(), service).pid
        if pid is None:
            self.say(f"{self._clock()} {service} is not running; no blow")
            return
        os.kill(pid, signal.SIGKILL)
        down = time.monotonic()
        await self._gone(service)
        self.report.blows[m.blow] += 1
        if m.blow is Blow.POSTGRES:
            self.say(f"{self._clock()} SIGKILL postgres (pid {pid}); held down {self.config.plan.outage_seconds:.0f} s")
            await self._hold_outage(base_url, down + self.config.plan.outage_seconds)
        else:
            self.say(f"{self._clock()} SIGKILL kafka (pid {pid}); starting it again")
        await self._start_again(service)
        back = time.monotonic()
        self.report.outages.append((m.blow, down, back))
        self.say(f"{self._clock()} {service} back after {back - down:.1f} s; {self._figures()}")

    async def _start_again(self, service: str, tries: int = 3) -> None:
        """The same local service started again; a start that times out on a busy machine is tried again."""
        from planperfect.stack import StackError

        for attempt in range(1, tries + 1):
            try:
                await asyncio.to_thread(self.stack.up)
                return
            except StackError as exc:
                if attempt == tries:
                    raise
                self.say(f"{self._clock()} {service} did not start ({str(exc).splitlines()[0]}); trying again")

    async def _gone(self, service: str) -> None:
        """Until the killed service's process is gone and its ports are closed: a JVM's main thread shows as a
        zombie while its other threads still exit and hold the listening sockets, and a start would find the port
        taken."""
        from planperfect.stack.process import port_is_open

        s = self.settings
        ports = [s.kafka_port, s.kafka_port + 1] if service == "kafka" else [s.postgres_port]
        deadline = time.monotonic() + SERVICE_GONE_S
        while getattr(self.stack.status(), service).running or any(port_is_open("127.0.0.1", p) for p in ports):
            if time.monotonic() > deadline:
                raise SoakError(f"{service} survived SIGKILL for {SERVICE_GONE_S:.0f}s")
            await asyncio.sleep(0.1)  # poll interval of a deadline-bound wait

    async def _hold_outage(self, base_url: str, until: float) -> None:
        """PostgreSQL stays down until `until`; meanwhile the API must still answer, and answer 'not ready'."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
            while time.monotonic() < until:
                try:
                    async with http.get(f"{base_url}/readyz") as resp:
                        self.report.readyz_in_outage[resp.status] += 1
                except (aiohttp.ClientError, TimeoutError):
                    self.report.readyz_in_outage[0] += 1
                await asyncio.sleep(min(OUTAGE_POLL_S, max(0.0, until - time.monotonic())))  # the hold's pace

    async def _tend(self, stop: asyncio.Event) -> None:
        shown = time.monotonic()
        while not stop.is_set():
            for e in self.crew.tend():
                self.say(f"{self._clock()} {e.name} exited on its own (code {e.code}); restarting it")
            if time.monotonic() - shown >= PROGRESS_EVERY_S:
                shown = time.monotonic()
                self.say(f"{self._clock()} {sum(self.report.blows.values())} blows so far; {self._figures()}")
            try:
                await asyncio.wait_for(stop.wait(), 0.5)  # the tending's pace
            except TimeoutError:
                pass


def table(report: SoakReport, config: SoakConfig) -> str:
    """The report as a table: one figure a line, what it counts and a note."""
    v, i, plan = report.verdict, report.intake, config.plan
    rows: list[tuple[str, object, str]] = [("jobs accepted (202)", len(i.accepted), "")]
    if v is not None:
        rows += [("  completed", v.completed, ""), ("  dead-lettered", v.dead_lettered, ""),
                 ("jobs on the log without a 202", v.unacknowledged, "its answer died with a killed API")]
    rows += [(f"SIGKILL {b}", report.blows[b], "replaced at once") for b in PROCESS_BLOWS]
    rows.append(("broker restarts (SIGKILL + start)", report.blows[Blow.BROKER], ""))
    if report.blows[Blow.POSTGRES]:
        seen = ", ".join(f"{s or 'no answer'} x{n}" for s, n in sorted(report.readyz_in_outage.items()))
        rows.append(("PostgreSQL outage (SIGKILL, held)", f"{plan.outage_seconds:.0f} s", f"/readyz answered {seen}"))
    rows.append(("processes that exited on their own", report.own_exits, "restarted after a backoff"))
    if v is not None:
        rows += [("LOST (accepted, never ended)", len(v.lost), ""),
                 ("DUPLICATED (a fact twice)", len(v.duplicated_jobs), "jobs: log and read model"),
                 ("sequence gaps", len(v.gaps), "jobs"),
                 ("stage re-runs after a blow", v.read_model.stage_reruns, "visible extra attempts")]
    stall, at = report.longest_stall
    rows += [("longest stall (no job ending)", f"{stall:.1f} s", f"from {at:.0f} s into the blows"),
             ("intake 503s", len(i.refused_503), f"{report.refused_in_outages()} while a dependency was down"),
             ("intake requests unanswered", i.unreachable, "the API killed or starting")]
    rows += [(f"intake answered {status}", n, "") for status, n in sorted(i.other.items())]
    rows.append(("duration", f"{report.seconds:.0f} s", f"blows over {plan.duration:.0f} s, then the drain"))
    width = max(len(label) for label, _, _ in rows)
    lines = ["soak", "-" * (width + 40)]
    lines += [f"{label:<{width}}  {value!s:>8}  {note}".rstrip() for label, value, note in rows]
    if report.data_dir is not None:
        lines.append(f"  logs and data kept in {report.data_dir}")
    if not report.drained:
        lines.append("  not every accepted job ended before the drain timeout")
    return "\n".join(lines)
