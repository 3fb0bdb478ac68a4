"""Rebuild and verify on a real broker and database: equal to live, dry runs, tampering named, a swap under load, late projections."""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from collections import Counter
from dataclasses import dataclass

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiokafka.admin import AIOKafkaAdminClient

from api.app import create_app
from api.config import ApiConfig
from planperfect.api_key import cli_actor
from planperfect.migrate import load_migrations
from projections.base import Projection, Record
from projections.rebuild import ReadModel, RebuildError, rebuild, verify
from projections.replay import LogHead, catch_up
from projections.runner import NOTIFY_CHANNEL, ProjectionRunner, default_projections
from streams.topics import JOB_EVENTS, Topics
from tests.joblog import dump, job_events, produce
from tests.support import api_session, cli, env_of, eventually, free_port, make_key
from streams.access import kafka_options

DDL = [(f"{m.version:04d}_{m.name}", m.sql) for m in load_migrations()]


async def project(infra, dsn: str, prefix: str, projections: list[Projection] | None = None) -> None:
    """Run a live projector until its stored positions reach the end of the log."""
    runner = ProjectionRunner(bootstrap=infra.bootstrap, dsn=dsn, topics=Topics(prefix), batch_wait_ms=20,
                              **({"projections": projections} if projections is not None else {}))
    await runner.start()
    conn = await asyncpg.connect(dsn)
    try:
        async with LogHead(infra.bootstrap, runner.sources) as head:
            await catch_up(runner, conn, "public", [p.name for p in runner.projections], head,
                           echo=lambda _: None, timeout=60, label="live")
    finally:
        await conn.close()
        await runner.stop()


async def sql(dsn: str, query: str, *args):
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def leftovers(infra, dsn: str) -> tuple[list[str], list[str]]:
    """Shadow schemas and shadow consumer groups a rebuild or verify left behind (none expected)."""
    schemas = [r[0] for r in await sql(dsn, "SELECT nspname FROM pg_namespace WHERE nspname ~ '^(rebuild|retired|verify)_'")]
    admin = AIOKafkaAdminClient(**kafka_options(infra.bootstrap))
    await admin.start()
    try:
        groups = [g[0] for g in await admin.list_consumer_groups() if re.search(r"\.(rebuild|verify)_", g[0])]
    finally:
        await admin.close()
    return schemas, groups


def job(i: int) -> uuid.UUID:
    return uuid.UUID(int=i)


async def test_a_rebuild_equals_live_and_swaps_in_an_identical_copy(infra, prefix, database):
    events = await job_events(12, fail_every=4)
    await produce(infra.bootstrap, Topics(prefix).job_events, events, extra_raw=[b"\xff not json"])
    await project(infra, database, prefix)
    before, indexes = await dump(database), await live_indexes(database)
    assert any(" USING btree (status, " in d for d in indexes)  # one the replay defers and builds at the end
    listener, woken = await asyncpg.connect(database), []
    await listener.add_listener(NOTIFY_CHANNEL, lambda *args: woken.append(args[-1]))
    lines: list[str] = []
    result = await rebuild(infra.bootstrap, database, Topics(prefix), DDL, echo=lines.append)
    assert result.swapped and result.comparison.same, "\n".join(lines)
    await listener.fetchval("SELECT 1")  # a round trip: any notification sent before it has arrived
    await listener.close()
    assert woken == []  # the copy has no readers: it never wakes the API's streams
    checks = {c.table: c for c in result.comparison.tables}
    assert set(checks) == set(ReadModel.of().tables)
    assert all(c.live_checksum == c.rebuilt_checksum and c.live_rows == c.rebuilt_rows for c in checks.values())
    assert checks["content_events"].rebuilt_rows == len(events)
    assert checks["content_dead_letters"].rebuilt_rows == 1
    assert await dump(database) == before  # every row, Kafka positions and timestamps included
    assert any(re.fullmatch(r"rebuild: [\d,]+ events applied, [\d,]+ events/s, lag 0", line) for line in lines)
    assert any(line.startswith("swap: ") for line in lines)
    assert await live_indexes(database) == indexes  # the ones the replay left out were built before the swap
    assert await leftovers(infra, database) == ([], [])


async def live_indexes(dsn: str) -> list[str]:
    """Every index of the rebuilt tables, as PostgreSQL would make it again."""
    rows = await sql(dsn, "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY($1) "
                          "ORDER BY indexname", list(ReadModel.of().tables))
    return [r[0] for r in rows]


async def test_a_dry_run_compares_and_leaves_live_untouched(infra, prefix, database):
    await produce(infra.bootstrap, Topics(prefix).job_events, await job_events(6))
    await project(infra, database, prefix)
    await sql(database, "UPDATE content_jobs SET title = 'tampered' WHERE job_id = $1", job(3))
    before = await dump(database)
    result = await rebuild(infra.bootstrap, database, Topics(prefix), DDL, dry_run=True, echo=lambda _: None)
    assert not result.swapped
    jobs = next(c for c in result.comparison.tables if c.table == "content_jobs")
    assert not jobs.same and jobs.differing_rows == 1
    assert jobs.samples == (f"job_id={job(3)}: differs in title",)
    assert all(c.same for c in result.comparison.tables if c.table != "content_jobs")
    assert await dump(database) == before
    assert await leftovers(infra, database) == ([], [])


async def test_verify_names_each_tampered_table_and_key_and_exits_1(infra, prefix, database):
    await produce(infra.bootstrap, Topics(prefix).job_events, await job_events(6, fail_every=3))
    await project(infra, database, prefix)
    await sql(database, "UPDATE content_jobs SET status = 'failed' WHERE job_id = $1", job(4))
    await sql(database, "DELETE FROM content_job_stages WHERE job_id = $1 AND stage = 'draft'", job(2))
    stray = uuid.uuid4()
    await sql(database, "INSERT INTO content_dead_letters (dead_letter_id, reason, source_topic, dead_lettered_at) "
                        "VALUES ($1, 'made up', 'nowhere', now())", stray)
    env = env_of(infra, database, prefix)
    code, out, err = await cli("projections", "verify", env=env)
    assert code == 1, out + err
    assert re.search(r"^content_jobs .* DIFFERENT: 1 rows$", out, re.M), out
    assert f"job_id={job(4)}: differs in status" in out
    assert re.search(r"^content_job_stages .* DIFFERENT: 1 rows$", out, re.M), out
    assert f"job_id={job(2)}, stage=draft: missing from live (the log has it)" in out
    assert f"dead_letter_id={stray}: only in live (the log does not have it)" in out
    assert re.search(r"^content_events .* same$", out, re.M), out
    assert "verify: DIFFERENT: content_jobs, content_job_stages, content_dead_letters" in out

    code, out, err = await cli("projections", "rebuild", env=env)
    assert code == 0, out + err
    assert re.search(r"^rebuild: [\d,]+ events applied, [\d,]+ events/s, lag 0$", out, re.M), out
    code, out, err = await cli("projections", "verify", env=env)
    assert code == 0, out + err
    assert "verify: the live read model matches the log" in out
    assert await leftovers(infra, database) == ([], [])
    # each run is an operator action on the audit log, naming who ran it, read back by the existing tail
    code, out, err = await cli("tail", "access-events", "--from-beginning", "--exit", env=env)
    assert code == 0, out + err
    runs = [(m[1], m[2], m[3]) for m in re.finditer(r"^\s*\d+:\d+\s+(Projection\w+)\s.*actor=(cli:\S+) outcome=(\w+)",
                                                   out, re.M)]
    me = cli_actor()  # the test runs the commands as its own OS user
    assert runs == [("ProjectionVerified", me, "different"), ("ProjectionRebuilt", me, "swapped"),
                    ("ProjectionVerified", me, "equal")], out  # one partition: in the order they ran


async def test_rebuilding_one_projection_replaces_only_its_tables(infra, prefix, database):
    await produce(infra.bootstrap, Topics(prefix).job_events, await job_events(5))
    await project(infra, database, prefix)
    await sql(database, "UPDATE content_jobs SET title = 'tampered' WHERE job_id = $1", job(1))
    await sql(database, "DELETE FROM content_job_stages WHERE job_id = $1", job(2))
    result = await rebuild(infra.bootstrap, database, Topics(prefix), DDL, only="stages", echo=lambda _: None)
    assert [c.table for c in result.comparison.tables] == ["content_job_stages"]
    assert (await sql(database, "SELECT count(*) FROM content_job_stages WHERE job_id = $1", job(2)))[0][0] > 0
    assert (await sql(database, "SELECT title FROM content_jobs WHERE job_id = $1", job(1)))[0][0] == "tampered"
    with pytest.raises(RebuildError, match="no projection named 'nope'; the projections are: events, jobs"):
        await rebuild(infra.bootstrap, database, Topics(prefix), DDL, only="nope", echo=lambda _: None)


@dataclass
class Answer:
    path: str
    status: int
    title: str | None
    started: float
    ended: float


async def test_the_api_answers_throughout_a_rebuild_while_the_projector_runs(infra, prefix, database):
    topics = Topics(prefix)
    events = await job_events(16, fail_every=5)
    first = [e for e in events if e.job_id.int <= 12]
    await produce(infra.bootstrap, topics.job_events, first)
    live = ProjectionRunner(bootstrap=infra.bootstrap, dsn=database, topics=topics, batch_size=20, batch_wait_ms=20)
    await live.start()
    stop_live = asyncio.Event()
    live_task = asyncio.create_task(live.run(stop_live))

    async def applied() -> int:
        return (await sql(database, "SELECT count(*) FROM content_events"))[0][0]

    await eventually(lambda: _equals(applied, len(first)), timeout=60, what="the live projector caught up")
    real_title = (await sql(database, "SELECT title FROM content_jobs WHERE job_id = $1", job(1)))[0][0]
    await sql(database, "UPDATE content_jobs SET title = 'tampered' WHERE job_id = $1", job(1))

    port = free_port()
    key = await make_key(infra, database, prefix, "reader")
    app_runner = web.AppRunner(create_app(ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=topics)))
    await app_runner.setup()
    await web.TCPSite(app_runner, "127.0.0.1", port).start()
    answers: list[Answer] = []
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def poll(http: aiohttp.ClientSession, n: int) -> None:
        i = n
        while not done.is_set():
            for path in (f"/v1/jobs/{job(1 + i % 12)}", "/v1/jobs?limit=5", "/v1/jobs?status=completed&limit=3"):
                started = loop.time()
                async with http.get(f"http://127.0.0.1:{port}{path}") as resp:
                    body = await resp.json()
                title = body.get("title") if path.startswith(f"/v1/jobs/{job(1)}") else None
                answers.append(Answer(path, resp.status, title, started, loop.time()))
            i += 1

    async with api_session(key) as http:
        pollers = [asyncio.create_task(poll(http, n)) for n in range(4)]
        try:
            await eventually(lambda: _seen(answers, "tampered"), what="the API serving the old copy")
            lines: list[str] = []
            rebuilding = asyncio.create_task(rebuild(infra.bootstrap, database, topics, DDL, echo=lines.append))
            await produce(infra.bootstrap, topics.job_events, events[len(first):])  # the log moves on meanwhile
            result = await rebuilding
            await eventually(lambda: _seen(answers, real_title), what="the API serving the rebuilt copy")
            await eventually(lambda: _equals(applied, len(events)), timeout=60, what="live applied the new events")
        finally:
            done.set()
            await asyncio.gather(*pollers)
            stop_live.set()
            await live_task  # the live projector never failed across the swap
            await live.stop()
            await app_runner.cleanup()

    failures = [a for a in answers if a.status != 200]
    assert not failures, failures[:5]
    assert result.swapped, "\n".join(lines)
    assert len(answers) > 50
    # Monotonic: no request begun after an answer from the rebuilt copy was ever served the old copy.
    first_new = min(a.ended for a in answers if a.title == real_title)
    assert not [a for a in answers if a.title == "tampered" and a.started > first_new]
    check = await verify(infra.bootstrap, database, topics, DDL, echo=lambda _: None)
    assert check.same, "\n".join(check.report())


async def _equals(probe, expected) -> bool:
    return await probe() == expected


async def _seen(answers: list[Answer], title: str) -> bool:
    return any(a.title == title for a in answers)


async def test_what_live_applies_after_the_copy_caught_up_reaches_the_copy_before_the_swap(infra, prefix, database):
    topics = Topics(prefix)
    events = await job_events(10, fail_every=4)
    first = [e for e in events if e.job_id.int <= 6]
    await produce(infra.bootstrap, topics.job_events, first)
    await project(infra, database, prefix)

    async def live_moves_on() -> None:
        await produce(infra.bootstrap, topics.job_events, events[len(first):])
        await project(infra, database, prefix)

    lines: list[str] = []

    def echo(line: str) -> None:
        lines.append(line)
        if re.fullmatch(r"rebuild: .* lag 0", line) and sum("lag 0" in x for x in lines) == 1:
            # The copy has just caught up: hold the rebuild right here (this blocks its event loop) while
            # a live projector, in a thread of its own, applies events the copy has not seen.
            worker = threading.Thread(target=lambda: asyncio.run(live_moves_on()))
            worker.start()
            worker.join()

    result = await rebuild(infra.bootstrap, database, topics, DDL, echo=echo)
    assert result.swapped
    assert any(re.fullmatch(r"swap: the rebuilt copy is [\d,]+ events behind live; catching up", x) for x in lines)
    assert (await sql(database, "SELECT count(*) FROM content_events"))[0][0] == len(events)
    check = await verify(infra.bootstrap, database, topics, DDL, echo=lambda _: None)
    assert check.same, "\n".join(check.report())


class EventTypes:
    """A projection added later: every event's type, in a table of its own."""

    name = "event_types"
    sources = (JOB_EVENTS,)
    tables = ("test_event_types",)

    def wants(self, record: Record) -> bool:
        return hasattr(record.message, "sequence")

    async def apply(self, conn: asyncpg.Connection, records: list[Record]) -> None:
        await conn.executemany("INSERT INTO test_event_types (event_id, type) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                               [(r.message.event_id, r.message.type) for r in records])


@dataclass
class Counted:
    """A projection, counting the records it is given."""

    inner: Projection
    applied: int = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def sources(self):
        return self.inner.sources

    @property
    def tables(self) -> tuple[str, ...]:
        return self.inner.tables

    def wants(self, record: Record) -> bool:
        return self.inner.wants(record)

    async def apply(self, conn: asyncpg.Connection, records: list[Record]) -> None:
        self.applied += len(records)
        await self.inner.apply(conn, records)


async def test_a_new_projection_starts_from_zero_alone_and_catches_up(infra, prefix, database):
    events = await job_events(8, fail_every=3)
    await produce(infra.bootstrap, Topics(prefix).job_events, events)
    first = [Counted(p) for p in default_projections()]
    await project(infra, database, prefix, first)
    assert next(c for c in first if c.name == "events").applied == len(events)
    before = await dump(database)
    positions = "SELECT projection, topic, partition, next_offset FROM projection_offsets ORDER BY 1, 2, 3"
    stored = await sql(database, positions)
    await sql(database, "CREATE TABLE test_event_types (event_id uuid PRIMARY KEY, type text NOT NULL)")

    second = [Counted(p) for p in default_projections()] + [Counted(EventTypes())]
    await project(infra, database, prefix, second)
    assert second[-1].applied == len(events)
    assert [c.applied for c in second[:-1]] == [0] * len(first)  # the others were handed nothing
    assert await dump(database) == before
    after = await sql(database, positions)
    assert [tuple(r) for r in after if r["projection"] != "event_types"] == [tuple(r) for r in stored]
    counts = await sql(database, "SELECT type, count(*) FROM test_event_types GROUP BY type")
    assert dict(counts) == Counter(e.type for e in events)


def test_each_projection_declares_the_tables_it_owns():
    model = ReadModel.of()
    assert model.names == [p.name for p in default_projections()]
    assert {"content_jobs", "content_job_stages", "content_events", "content_payloads"} <= set(model.tables)
    assert "projection_offsets" not in model.tables
    assert ReadModel.of(only="jobs").tables == ("content_jobs",)
    assert ReadModel.of([*default_projections(), EventTypes()], only="event_types").tables == ("test_event_types",)
