"""Verify and rebuild record their runs in the live schema, and the monitor's projections page shows them."""

from __future__ import annotations

import asyncpg
import pytest

from api.config import ApiConfig
from projections.rebuild import RebuildError, rebuild, verify
from streams.topics import Topics
from tests.integration.test_rebuild import DDL, job, project, sql
from tests.joblog import job_events, produce
from tests.support import api_client


async def test_a_verify_and_a_dry_run_are_recorded_and_shown_on_the_projections_page(infra, prefix, database):
    events = await job_events(6)
    await produce(infra.bootstrap, Topics(prefix).job_events, events)
    await project(infra, database, prefix)
    lines: list[str] = []
    assert (await verify(infra.bootstrap, database, Topics(prefix), DDL, echo=lines.append)).same

    runs = await sql(database, "SELECT * FROM projection_runs")
    assert len(runs) == 1, "\n".join(lines)
    run = runs[0]
    assert (run["kind"], run["state"], run["events_applied"], run["lag"]) == ("verify", "equal", len(events), 0), run
    assert "jobs" in run["projections"] and run["updated_at"] >= run["started_at"]
    assert run["message"].endswith("tables the same"), run["message"]

    await sql(database, "UPDATE content_jobs SET title = 'tampered' WHERE job_id = $1", job(2))
    result = await rebuild(infra.bootstrap, database, Topics(prefix), DDL, dry_run=True, echo=lambda _: None)
    assert not result.swapped
    dry = (await sql(database, "SELECT * FROM projection_runs WHERE kind = 'rebuild'"))[0]
    assert (dry["state"], dry["events_applied"]) == ("different", len(events)), dry
    assert "dry run" in dry["message"] and "different: content_jobs" in dry["message"], dry["message"]

    async with api_client(infra, ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix)),
                          role="reader") as client:
        page = await client.get("/monitor/projections")
        html = await page.text()
    assert page.status == 200, html
    assert html.index(dry["message"]) < html.index(run["message"])  # newest first
    assert ">verify<" in html and ">equal<" in html and ">different<" in html


async def test_a_run_that_fails_is_recorded_as_failed(infra, prefix, database):
    conn = await asyncpg.connect(database)
    try:
        await conn.execute("DROP TABLE content_events")  # the live read model lacks a table the copy must compare
    finally:
        await conn.close()
    with pytest.raises(RebuildError, match="content_events"):
        await verify(infra.bootstrap, database, Topics(prefix), DDL, echo=lambda _: None)
    run = (await sql(database, "SELECT * FROM projection_runs"))[0]
    assert run["state"] == "failed" and "content_events" in run["message"], run
