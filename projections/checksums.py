"""Compares two copies of the read model table by table: rows, an md5 checksum, and the first differing keys."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace

import asyncpg

Positions = dict[tuple[str, str, int], int]  # (projection, topic, partition) -> next offset to apply

LIVE = "public"
POSITIONS_TABLE = "projection_offsets"


class SchemaMismatch(RuntimeError):
    """The two copies do not have the same columns: they cannot be compared row by row."""


def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


async def read_positions(
    conn: asyncpg.Connection, schema: str, names: Sequence[str], topics: Sequence[str] | None = None,
) -> Positions:
    """Where each of `names` stands, per topic and partition; on `topics` only when given (the live projector
    stores a position for every topic it consumes, also those a projection rebuilt alone does not read)."""
    rows = await conn.fetch(
        f"SELECT projection, topic, partition, next_offset FROM {q(schema)}.{POSITIONS_TABLE} "
        "WHERE projection = ANY($1::text[]) AND ($2::text[] IS NULL OR topic = ANY($2::text[]))",
        list(names), None if topics is None else list(topics),
    )
    return {(r["projection"], r["topic"], r["partition"]): r["next_offset"] for r in rows}


def gap(behind: Positions, ahead: Positions) -> int:
    """How many events `ahead` has applied that `behind` has not (0 when `behind` is level or further)."""
    return sum(max(0, offset - behind.get(key, 0)) for key, offset in ahead.items())


@dataclass(frozen=True)
class TableCheck:
    """One table, live against rebuilt: rows, checksum, and the first differing rows by primary key."""

    table: str
    live_rows: int
    rebuilt_rows: int
    live_checksum: str
    rebuilt_checksum: str
    differing_rows: int = 0
    samples: tuple[str, ...] = ()

    @property
    def same(self) -> bool:
        return self.live_rows == self.rebuilt_rows and self.live_checksum == self.rebuilt_checksum


@dataclass(frozen=True)
class Comparison:
    tables: tuple[TableCheck, ...]
    live_positions: Positions
    rebuilt_positions: Positions
    notes: tuple[str, ...] = ()  # what the rebuilt copy read of the log, and the events it dead-lettered

    @property
    def aligned(self) -> bool:
        """Whether both copies have applied exactly the same events."""
        return gap(self.live_positions, self.rebuilt_positions) == 0 == gap(self.rebuilt_positions, self.live_positions)

    @property
    def same(self) -> bool:
        return self.aligned and all(c.same for c in self.tables)

    def report(self) -> list[str]:
        lines = [f"{'table':30} {'live rows':>10} {'rebuilt rows':>12}  checksum (md5 of rows by primary key)"]
        for c in self.tables:
            verdict = "same" if c.same else f"DIFFERENT: {c.differing_rows:,} rows"
            lines.append(f"{c.table:30} {c.live_rows:>10,} {c.rebuilt_rows:>12,}  "
                         f"{c.live_checksum[:12]} {'=' if c.same else '!='} {c.rebuilt_checksum[:12]}  {verdict}")
            lines += [f"    {sample}" for sample in c.samples]
        if behind := gap(self.live_positions, self.rebuilt_positions):
            lines.append(f"the live read model has not applied {behind:,} events of the log (is the projector running?)")
        if ahead := gap(self.rebuilt_positions, self.live_positions):
            lines.append(f"the live read model has applied {ahead:,} events the rebuilt copy has not yet")
        return lines + list(self.notes)


async def _columns(conn: asyncpg.Connection, schema: str, table: str) -> tuple[list[str], list[str]]:
    rel = f"{q(schema)}.{q(table)}"
    cols = await conn.fetch("SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 "
                            "AND NOT attisdropped ORDER BY attnum", rel)
    pk = await conn.fetch("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                          "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = $1::regclass AND i.indisprimary "
                          "ORDER BY array_position(i.indkey::int2[], a.attnum)", rel)
    return [r[0] for r in cols], [r[0] for r in pk]


async def _check_table(conn: asyncpg.Connection, table: str, rebuilt: str, samples: int) -> TableCheck:
    cols, pk = await _columns(conn, LIVE, table)
    row = f"ROW({', '.join(q(c) for c in cols)})::text"
    order = ", ".join(q(c) for c in pk) or row
    sums = []
    for schema in (LIVE, rebuilt):
        try:
            sums.append(await conn.fetchrow(
                f"SELECT count(*) AS n, md5(coalesce(string_agg(md5({row}), '' ORDER BY {order}), '')) AS sum "
                f"FROM {q(schema)}.{q(table)}"))
        except asyncpg.UndefinedColumnError as exc:
            raise SchemaMismatch(f"{table}: the live and rebuilt tables have different columns ({exc})") from None
    check = TableCheck(table, sums[0]["n"], sums[1]["n"], sums[0]["sum"], sums[1]["sum"])
    if check.same:
        return check
    if not pk:
        return replace(check, samples=("(no primary key: the differing rows cannot be named)",))
    keys = ", ".join(q(c) for c in pk)
    side = "SELECT {keys}, to_jsonb(t) AS j FROM {rel} AS t"
    rows = await conn.fetch(
        f"SELECT {keys}, l.j AS live, r.j AS rebuilt, count(*) OVER () AS total "
        f"FROM ({side.format(keys=keys, rel=f'{LIVE}.{q(table)}')}) AS l "
        f"FULL JOIN ({side.format(keys=keys, rel=f'{q(rebuilt)}.{q(table)}')}) AS r USING ({keys}) "
        f"WHERE l.j IS DISTINCT FROM r.j ORDER BY {keys} LIMIT $1", samples,
    )
    return replace(check, differing_rows=rows[0]["total"] if rows else 0,
                   samples=tuple(_describe_row(r, pk) for r in rows))


def _describe_row(r: asyncpg.Record, pk: list[str]) -> str:
    key = ", ".join(f"{c}={r[c]}" for c in pk)
    if r["live"] is None:
        return f"{key}: missing from live (the log has it)"
    if r["rebuilt"] is None:
        return f"{key}: only in live (the log does not have it)"
    live, rebuilt = json.loads(r["live"]), json.loads(r["rebuilt"])
    return f"{key}: differs in {', '.join(c for c in live if live[c] != rebuilt.get(c))}"


async def compare(
    conn: asyncpg.Connection, rebuilt: str, tables: Sequence[str], names: Sequence[str], *, samples: int = 5,
    topics: Sequence[str] | None = None,
) -> Comparison:
    """Rows and checksums of each table, live against `rebuilt`, and both copies' positions (on `topics`, the
    ones the copy read), in one snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        live_at = await read_positions(conn, LIVE, names, topics)
        rebuilt_at = await read_positions(conn, rebuilt, names, topics)
        checks = tuple([await _check_table(conn, t, rebuilt, samples) for t in tables])
    return Comparison(checks, live_at, rebuilt_at)


