"""Rebuilds read models from the event log in a shadow schema, compares them with live, and swaps them in at once."""

from __future__ import annotations

import asyncio
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.protocol.admin import DeleteGroupsRequest

from projections.base import Projection
from projections.checksums import LIVE, POSITIONS_TABLE, Comparison, compare, gap, q, read_positions
from projections.replay import Echo, LogHead, RebuildError, ReplayAudit, audit, catch_up
from projections.runner import ProjectionRunner, default_projections
from projections.runs import RunKind, RunRecord, RunState
from streams.topics import Topics
from streams.access import kafka_options

Ddl = Sequence[tuple[str, str]]  # (migration name, SQL) in order

LOCK_TIMEOUT_MS = 5000
SETTLE_POLL_S = 0.2


@dataclass(frozen=True)
class ReadModel:
    """Projections and the tables they own, in the order the runner writes them (so: the order to lock them in)."""

    projections: tuple[Projection, ...]
    tables: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.projections]

    @classmethod
    def of(cls, projections: Sequence[Projection] | None = None, only: str | None = None) -> ReadModel:
        every = list(projections) if projections is not None else default_projections()
        owner: dict[str, str] = {}
        for p in every:
            if not p.tables or POSITIONS_TABLE in p.tables:
                raise RebuildError(f"projection {p.name!r} declares tables {p.tables!r}: it must own one or more, "
                                   f"and never {POSITIONS_TABLE}")
            for table in p.tables:
                if owner.setdefault(table, p.name) != p.name:
                    raise RebuildError(f"table {table} is written by projections {owner[table]} and {p.name}; "
                                       "a table must have one owner to be rebuilt")
        chosen = [p for p in every if only is None or p.name == only]
        if not chosen:
            raise RebuildError(f"no projection named {only!r}; the projections are: {', '.join(p.name for p in every)}")
        return cls(tuple(chosen), tuple(t for p in chosen for t in p.tables))


def in_schema(dsn: str, schema: str, **settings: str) -> str:
    """`dsn` whose sessions resolve unqualified names in `schema` alone, with any other `settings` (asyncpg passes
    the query on as settings)."""
    parts = urllib.parse.urlsplit(dsn)
    given = {"search_path": schema, **settings}
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k not in given]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode([*query, *given.items()])))


class ShadowTopics(Topics):
    """The live topics, read under consumer groups of the shadow's own so that the live projector is not disturbed."""

    def __init__(self, topics: Topics, tag: str) -> None:
        super().__init__(topics.prefix)
        self.tag = tag

    def group(self, role: str) -> str:
        return f"{super().group(role)}.{self.tag}"


def _stamp() -> str:
    return f"{datetime.now(timezone.utc):%Y%m%d%H%M%S}_{uuid.uuid4().hex[:6]}"


async def _create_shadow(conn: asyncpg.Connection, schema: str, ddl: Ddl, model: ReadModel) -> None:
    """A fresh, empty copy of the schema: every migration applied with `schema` first on the search path."""
    await conn.execute(f"CREATE SCHEMA {q(schema)}")
    for name, sql in ddl:
        try:
            async with conn.transaction():
                await conn.execute(f"SET LOCAL search_path TO {q(schema)}")
                await conn.execute(sql)
        except asyncpg.PostgresError as exc:
            raise RebuildError(f"migration {name} failed inside the shadow schema {schema}: {exc}") from None
    for where in (LIVE, schema):
        have = {r[0] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", where)}
        if missing := [t for t in (*model.tables, POSITIONS_TABLE) if t not in have]:
            raise RebuildError(f"schema {where} has no table {', '.join(missing)}; run `planperfect migrate` first")


# Indexes no projection's write needs: not unique (ON CONFLICT and the sequence guards use those) and backing no
# constraint. Kept up row by row they cost a replay a fifth of PostgreSQL's time (content_jobs has five, and an
# update that changes its status touches every one); built once over the full tables they are quick.
_DEFERRABLE_INDEXES = """
SELECT ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition
  FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
 WHERE n.nspname = $1 AND t.relname = ANY($2::text[]) AND NOT i.indisunique
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
 ORDER BY ic.relname
"""


async def _defer_indexes(conn: asyncpg.Connection, schema: str, model: ReadModel) -> list[str]:
    """Drop the shadow's deferrable indexes; returns the statements that make them again (see _build_indexes)."""
    found = await conn.fetch(_DEFERRABLE_INDEXES, schema, list(model.tables))
    async with conn.transaction():
        for row in found:
            await conn.execute(f"DROP INDEX {q(schema)}.{q(row['name'])}")
    return [row["definition"] for row in found]


async def _build_indexes(conn: asyncpg.Connection, definitions: Sequence[str], echo: Echo) -> None:
    """Make the indexes _defer_indexes dropped, as the migrations defined them, before the copy is compared."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    for definition in definitions:
        await conn.execute(definition)
    if definitions:
        echo(f"rebuild: {len(definitions)} indexes built over the replayed tables in {loop.time() - began:.1f}s")


_OUTSIDE_DEPENDENTS = """
WITH moved AS (SELECT unnest($1::regclass[]) AS oid)
SELECT format('view %s reads %s', v.oid::regclass, d.refobjid::regclass) AS what
  FROM pg_depend d JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
  JOIN pg_class v ON v.oid = r.ev_class
 WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid IN (SELECT oid FROM moved)
   AND v.oid NOT IN (SELECT oid FROM moved)
UNION
SELECT format('foreign key %s of %s references %s', conname, conrelid::regclass, confrelid::regclass)
  FROM pg_constraint
 WHERE contype = 'f' AND (conrelid IN (SELECT oid FROM moved)) <> (confrelid IN (SELECT oid FROM moved))
"""


async def _check_swappable(conn: asyncpg.Connection, schema: str, model: ReadModel) -> None:
    """Views and foreign keys follow a table, not its name: one across the swap's edge would be left pointing wrong."""
    for where in (LIVE, schema):
        rels = [f"{q(where)}.{q(t)}" for t in model.tables]
        if found := [r["what"] for r in await conn.fetch(_OUTSIDE_DEPENDENTS, rels)]:
            raise RebuildError(f"cannot swap {', '.join(model.tables)} alone: {'; '.join(found)}")


_ADOPT_POSITIONS = """
INSERT INTO {live}.{table} (projection, topic, partition, next_offset, updated_at)
SELECT projection, topic, partition, next_offset, now() FROM {shadow}.{table} WHERE projection = ANY($1::text[])
ON CONFLICT (projection, topic, partition) DO UPDATE
SET next_offset = GREATEST({table}.next_offset, EXCLUDED.next_offset), updated_at = now()
"""


def refusal(found: ReplayAudit) -> RebuildError:
    return RebuildError("refusing to swap, the live read model is untouched: the rebuilt copy would lose events "
                        "of the log: " + "; ".join(found.problems))


async def _swap(
    conn: asyncpg.Connection, schema: str, retired: str, model: ReadModel, sources: Sequence[str],
    keep_up: Callable[[], Awaitable[int]], check: Callable[[], Awaitable[ReplayAudit]], echo: Echo, timeout: float,
) -> None:
    """In one transaction: live tables out to `retired`, rebuilt ones in, and the rebuilt positions adopted;
    only once the copy has applied all that live has, and accounts for every offset it read."""
    locked = ", ".join(f"{LIVE}.{q(t)}" for t in (*model.tables, POSITIONS_TABLE))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            async with conn.transaction():
                await conn.execute(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
                # EXCLUSIVE stops the live projector's writes but not the API's reads. Tables are taken in the
                # order the projector writes them (projections in order, positions last): no deadlock with it.
                await conn.execute(f"LOCK TABLE {locked} IN EXCLUSIVE MODE")
                behind = gap(await read_positions(conn, schema, model.names, sources),
                             await read_positions(conn, LIVE, model.names, sources))
                if not behind:
                    if (found := await check()).problems:
                        raise refusal(found)
                    began = loop.time()
                    await conn.execute(f"CREATE SCHEMA {q(retired)}")
                    for table in model.tables:
                        await conn.execute(f"ALTER TABLE {LIVE}.{q(table)} SET SCHEMA {q(retired)}")
                        await conn.execute(f"ALTER TABLE {q(schema)}.{q(table)} SET SCHEMA {LIVE}")
                    await conn.execute(_ADOPT_POSITIONS.format(live=LIVE, shadow=q(schema), table=POSITIONS_TABLE),
                                       model.names)
                    echo(f"swap: {', '.join(model.tables)} swapped in {1000 * (loop.time() - began):.0f} ms")
                    return
        except asyncpg.LockNotAvailableError:
            behind = 0
            echo(f"swap: live tables still busy after {LOCK_TIMEOUT_MS} ms; trying again")
        if loop.time() > deadline:
            raise RebuildError(f"could not swap within {timeout:.0f}s")
        if behind:  # the live projector moved on while we were not looking: apply what it has, then try again
            echo(f"swap: the rebuilt copy is {behind:,} events behind live; catching up")
            if not await keep_up():
                raise RebuildError(f"live positions are {behind:,} events past the end of the log; "
                                   f"was the topic recreated? see {LIVE}.{POSITIONS_TABLE}")


async def _drop(conn: asyncpg.Connection, schema: str, echo: Echo, *, cascade: bool) -> None:
    """Drop a schema. After a swap, its tables go first and the schema only if nothing else is left in it."""
    try:
        async with conn.transaction():
            if not cascade:
                tables = [f"{q(schema)}.{q(r[0])}" for r in
                          await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)]
                if tables:
                    await conn.execute(f"DROP TABLE {', '.join(tables)}")
            await conn.execute(f"DROP SCHEMA IF EXISTS {q(schema)}{' CASCADE' if cascade else ''}")
    except asyncpg.DependentObjectsStillExistError as exc:
        echo(f"kept schema {schema}: {exc}; drop it by hand once nothing uses it")


async def _forget_groups(bootstrap: str, tag: str, echo: Echo) -> None:
    """Delete the shadow's consumer groups (aiokafka's admin has no call for it: one DeleteGroups request)."""
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    try:
        await admin.start()
        groups = [g[0] for g in await admin.list_consumer_groups() if g[0].endswith(f".{tag}")]
        for group in groups:
            resp = await admin._send_request(DeleteGroupsRequest([group]), await admin.find_coordinator(group))
            if errors := [code for _, code in resp.results if code]:
                echo(f"consumer group {group} left behind (error {errors[0]}); it expires on its own")
    except (KafkaError, OSError, asyncio.TimeoutError) as exc:
        echo(f"consumer groups *.{tag} may be left behind ({type(exc).__name__}: {exc}); they expire on their own")
    finally:
        await admin.close()


@asynccontextmanager
async def shadow_runner(
    bootstrap: str, dsn: str, topics: Topics, schema: str, model: ReadModel, *, batch_size: int, echo: Echo,
    name: str,
) -> AsyncIterator[ProjectionRunner]:
    """A ProjectionRunner writing into `schema` (its rows and its positions) under consumer groups of its own; it
    reads the log and never writes to it (the dead letters it meets are the ones live published)."""
    # The copy's commits need not wait for the disk: a crash loses the copy, never live, and the swap's own commit
    # (synchronous, on another session) flushes the log up to it, the copy's rows and positions included.
    copy_dsn = in_schema(dsn, schema, synchronous_commit="off")
    runner = ProjectionRunner(bootstrap=bootstrap, dsn=copy_dsn, topics=ShadowTopics(topics, schema),
                              projections=list(model.projections), batch_size=batch_size, batch_wait_ms=100,
                              publish_dead_letters=False, notify=False, name=name)
    try:
        await runner.start()
        yield runner
    finally:
        await runner.stop()
        await _forget_groups(bootstrap, schema, echo)


@dataclass(frozen=True)
class RebuildResult:
    schema: str
    events: int
    seconds: float
    comparison: Comparison
    swapped: bool

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


async def rebuild(
    bootstrap: str, dsn: str, topics: Topics, ddl: Ddl, *, only: str | None = None,
    projections: Sequence[Projection] | None = None, dry_run: bool = False, keep_old: bool = False,
    batch_size: int = 1000, timeout: float = 3600.0, samples: int = 5, echo: Echo = print,
) -> RebuildResult:
    """Replay the log from offset 0 into a shadow schema, check it against the log and compare it with live, and
    (unless `dry_run`) swap it in. A copy that does not account for every offset of the log is never swapped in:
    RebuildError, live untouched. Differences from live are reported: they are what a rebuild is for.
    The run's progress and outcome are recorded in the live projection_runs for the monitor."""
    model = ReadModel.of(projections, only)
    async with RunRecord(dsn, RunKind.REBUILD, model.names, echo) as run:
        result = await _rebuild(bootstrap, dsn, topics, ddl, model, dry_run=dry_run, keep_old=keep_old,
                                batch_size=batch_size, timeout=timeout, samples=samples, echo=run.echo)
        run.events = result.events
        outcome = "swapped in" if result.swapped else "dry run, live untouched"
        await run.finish(RunState.SWAPPED if result.swapped else verdict(result.comparison),
                         f"{result.events:,} events in {result.seconds:.1f}s; {outcome}; {summary(result.comparison)}")
        return result


async def _rebuild(
    bootstrap: str, dsn: str, topics: Topics, ddl: Ddl, model: ReadModel, *, dry_run: bool, keep_old: bool,
    batch_size: int, timeout: float, samples: int, echo: Echo,
) -> RebuildResult:
    stamp = _stamp()
    schema, retired = f"rebuild_{stamp}", f"retired_{stamp}"
    conn = await asyncpg.connect(dsn)
    swapped = False
    try:
        await _create_shadow(conn, schema, ddl, model)
        if not dry_run:
            await _check_swappable(conn, schema, model)
        deferred = await _defer_indexes(conn, schema, model)
        async with shadow_runner(bootstrap, dsn, topics, schema, model, batch_size=batch_size, echo=echo,
                                 name="rebuild copy") as runner, \
                LogHead(bootstrap, runner.sources) as head:
            echo(f"rebuild: replaying {', '.join(runner.sources)} from offset 0 into schema {schema} "
                 f"for {', '.join(model.names)}")
            loop = asyncio.get_running_loop()
            began = loop.time()

            def keep_up() -> Awaitable[int]:
                return catch_up(runner, conn, schema, model.names, head, echo=echo, timeout=timeout)

            def check() -> Awaitable[ReplayAudit]:
                return audit(runner, conn, schema, model.names, head)

            events = await keep_up()
            await _build_indexes(conn, deferred, echo)  # timed: the copy is not whole without them
            seconds = loop.time() - began
            found = await check()
            for line in found.lines:
                echo(line)
            comparison = await compare(conn, schema, model.tables, model.names, samples=samples, topics=runner.sources)
            for line in comparison.report():
                echo(line)
            if found.problems:
                raise refusal(found)
            if not dry_run:
                # Statistics and visibility maps now, so the API plans well on the new tables and autovacuum
                # has no reason to hold them (and so the swap) for its own pass later.
                for table in model.tables:
                    await conn.execute(f"VACUUM (ANALYZE) {q(schema)}.{q(table)}")
                await _swap(conn, schema, retired, model, runner.sources, keep_up, check, echo, timeout)
                swapped = True
        echo(f"rebuild: {events:,} events in {seconds:.1f}s ({events / max(seconds, 1e-6):,.0f} events/s); "
             + ("swapped in" if swapped else "dry run: live untouched"))
        return RebuildResult(schema, events, seconds, comparison, swapped)
    finally:
        await _drop(conn, schema, echo, cascade=not swapped)
        if swapped and keep_old:
            echo(f"rebuild: the previous tables are kept in schema {retired}")
        elif swapped:
            await _drop(conn, retired, echo, cascade=False)
        await conn.close()


async def verify(
    bootstrap: str, dsn: str, topics: Topics, ddl: Ddl, *, only: str | None = None,
    projections: Sequence[Projection] | None = None, batch_size: int = 1000, timeout: float = 3600.0,
    settle: float = 10.0, samples: int = 5, echo: Echo = print,
) -> Comparison:
    """Compare the live read model with one rebuilt from the log, at the same log position when live keeps up.
    The events the projection dead-lettered are named in the report; a copy that does not account for every
    offset of the log cannot be compared (RebuildError). The run is recorded in the live projection_runs."""
    model = ReadModel.of(projections, only)
    async with RunRecord(dsn, RunKind.VERIFY, model.names, echo) as run:
        result = await _verify(bootstrap, dsn, topics, ddl, model, batch_size=batch_size, timeout=timeout,
                               settle=settle, samples=samples, echo=run.echo, record=run)
        await run.finish(verdict(result), summary(result))
        return result


def verdict(comparison: Comparison) -> RunState:
    return RunState.EQUAL if comparison.same else RunState.DIFFERENT


def summary(comparison: Comparison) -> str:
    differ = [c.table for c in comparison.tables if not c.same]
    said = f"{len(comparison.tables) - len(differ)} of {len(comparison.tables)} tables the same"
    said += f"; different: {', '.join(differ)}" if differ else ""
    return said if comparison.aligned else f"{said} (the copies stood at different log positions)"


async def _verify(
    bootstrap: str, dsn: str, topics: Topics, ddl: Ddl, model: ReadModel, *, batch_size: int, timeout: float,
    settle: float, samples: int, echo: Echo, record: RunRecord,
) -> Comparison:
    schema = f"verify_{_stamp()}"
    conn = await asyncpg.connect(dsn)
    try:
        await _create_shadow(conn, schema, ddl, model)
        await _defer_indexes(conn, schema, model)  # and never built: the copy is compared and dropped
        async with shadow_runner(bootstrap, dsn, topics, schema, model, batch_size=batch_size, echo=echo,
                                 name="verify copy") as runner, \
                LogHead(bootstrap, runner.sources) as head:
            def keep_up() -> Awaitable[int]:
                return catch_up(runner, conn, schema, model.names, head, echo=echo, timeout=timeout, label="verify")

            record.events = await keep_up()
            result = await _compare_level(conn, schema, model, runner.sources, keep_up, settle, samples)
            found = await audit(runner, conn, schema, model.names, head)
            if found.problems:
                raise RebuildError("the copy rebuilt from the log does not account for all of it: "
                                   + "; ".join(found.problems))
            return replace(result, notes=found.lines)
    finally:
        await _drop(conn, schema, echo, cascade=True)
        await conn.close()


async def _compare_level(
    conn: asyncpg.Connection, schema: str, model: ReadModel, sources: Sequence[str],
    keep_up: Callable[[], Awaitable[int]], settle: float, samples: int,
) -> Comparison:
    """Compare once both copies stand at the same positions; a live projector that lags gets `settle` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settle
    stuck = False
    while True:
        live = await read_positions(conn, LIVE, model.names, sources)
        rebuilt = await read_positions(conn, schema, model.names, sources)
        late = stuck or loop.time() > deadline
        if gap(rebuilt, live) and not late:
            stuck = not await keep_up()  # nothing to apply: live stands past the end of the log
            continue
        if late or not gap(live, rebuilt):
            result = await compare(conn, schema, model.tables, model.names, samples=samples, topics=sources)
            if result.aligned or late:
                return result
            continue
        await asyncio.sleep(SETTLE_POLL_S)  # the live projector is still applying what the copy has: poll, bounded
