"""End to end over HTTP: jobs flow through every stage to exported articles, recorded as events in PostgreSQL."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import aiohttp

from streams.payloads import PIPELINES, JobType
from tests.support import eventually

ARTICLE = {
    "job_type": "article",
    "requester_email": "editor@example.com",
    "payload": {
        "title": "Choosing a Heat Pump for an Old House",
        "keywords": ["heat pump", "insulation", "energy bill"],
        "domain": "greenhome.example",
        "word_count": 900,
    },
}
SCHEMA = {
    "job_type": "schema",
    "requester_email": "seo@example.com",
    "payload": {"title": "Acme Widgets FAQ", "keywords": ["widgets", "returns"], "schema_type": "FAQPage"},
}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


async def _wait_done(http: aiohttp.ClientSession, base: str, job_id: str, system) -> dict:
    async def done():
        async with http.get(f"{base}/v1/jobs/{job_id}") as resp:
            if resp.status != 200:
                return None
            job = await resp.json()
            return job if job["status"] in ("completed", "dead_lettered", "cancelled") else None

    try:
        return await eventually(done, timeout=90, what=f"job {job_id} finished")
    except AssertionError:
        raise AssertionError(system.logs())


async def test_article_and_schema_jobs_complete_end_to_end(system):
    base = system.base_url
    async with system.http() as http:
        async with http.post(f"{base}/content-intake", json=ARTICLE) as resp:
            assert resp.status == 202, await resp.text()
            accepted = await resp.json()
        assert accepted["status"] == "queued" and accepted["stage"] == "research"
        async with http.post(f"{base}/v1/jobs", json=SCHEMA) as resp:
            assert resp.status == 202
            schema_job = (await resp.json())["job_id"]

        job = await _wait_done(http, base, accepted["job_id"], system)
        assert job["status"] == "completed", job
        pipeline = [s.value for s in PIPELINES[JobType.ARTICLE]]
        assert [s["stage"] for s in job["stages"]] == pipeline
        for st in job["stages"]:
            assert st["status"] == "completed" and st["attempts"] == 1, st
            assert st["started_at"] and st["completed_at"] and st["duration_ms"] is not None
        assert job["dequeued_at"] and job["completed_at"]

        async with http.get(f"{base}/v1/jobs/{accepted['job_id']}/events") as resp:
            events = (await resp.json())["events"]
        assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))  # gap-free
        expected = ["JobSubmitted"]
        for _ in pipeline:
            expected += ["StageStarted", "StageCompleted"]
        expected.append("JobCompleted")
        assert [e["type"] for e in events] == expected
        assert len({e["event_id"] for e in events}) == len(events)
        assert all(e["correlation_id"] == accepted["job_id"] for e in events)
        for earlier, later in zip(events, events[1:]):
            assert later["causation_id"] is not None and earlier["occurred_at"] <= later["occurred_at"]

        for stage in pipeline:
            async with http.get(f"{base}/v1/jobs/{accepted['job_id']}/payloads/{stage}") as resp:
                assert resp.status == 200, stage
                payload = await resp.json()
                assert payload["stage"] == stage and payload["body"]

        async with http.get(f"{base}/v1/jobs/{accepted['job_id']}/result") as resp:
            result = await resp.json()
        parser = _Tags()
        parser.feed(result["html"])
        assert {"html", "head", "title", "body", "h1"} <= set(parser.tags)
        assert result["json_ld"]["@context"].startswith("https://schema.org")
        assert result["json_ld"]["@type"] == "Article"
        words = len(re.findall(r"[A-Za-z0-9'’-]+", re.sub(r"[#*_>`\[\]()]", " ", result["markdown"])))
        assert abs(words - 900) <= 90, words
        assert result["qa"]["passed"] is True

        schema = await _wait_done(http, base, schema_job, system)
        assert schema["status"] == "completed"
        async with http.get(f"{base}/v1/jobs/{schema_job}/result") as resp:
            markup = (await resp.json())["json_ld"]
        assert markup["@type"] == "FAQPage"

        async with http.get(f"{base}/v1/jobs?status=completed&limit=1") as resp:
            page = await resp.json()
        assert len(page["jobs"]) == 1 and page["next_cursor"]
        async with http.get(f"{base}/v1/jobs?status=completed&limit=1&cursor={page['next_cursor']}") as resp:
            page2 = await resp.json()
        assert {page["jobs"][0]["job_id"], page2["jobs"][0]["job_id"]} == {accepted["job_id"], schema_job}
        assert page2["next_cursor"] is None
    _logs_are_json_lines_with_context(system, accepted["job_id"])


def _logs_are_json_lines_with_context(system, job_id: str) -> None:
    """Logs written to a file are one JSON object a line; a stage's completion names its job, stage and attempt."""
    for role, child in system.children.items():
        for line in child.log.read_text(errors="replace").splitlines():
            try:
                json.loads(line)
            except ValueError:
                raise AssertionError(f"{role} wrote a line that is not JSON: {line!r}") from None
    lines = [json.loads(line) for line in system.children["worker"].log.read_text().splitlines()]
    completed = [r for r in lines if r["message"].startswith(f"job {job_id} stage research attempt 1 completed")]
    assert len(completed) == 1, lines
    assert (completed[0]["job_id"], completed[0]["stage"], completed[0]["attempt"]) == (job_id, "research", 1)
    assert completed[0]["event_id"] and completed[0]["level"] == "INFO"


async def test_live_stream_delivers_every_event_until_completion(system):
    base = system.base_url
    async with system.http() as http:
        async with http.post(f"{base}/v1/jobs", json=ARTICLE) as resp:
            job_id = (await resp.json())["job_id"]

        async def open_stream():
            resp = await http.get(f"{base}/v1/jobs/{job_id}/stream")
            if resp.status == 200:
                return resp
            resp.release()
            return None

        resp = await eventually(open_stream, timeout=30, what="job visible to the stream")
        types, ids = [], []
        async for line in resp.content:
            text = line.decode().strip()
            if text.startswith("event: "):
                types.append(text.removeprefix("event: "))
            elif text.startswith("data: "):
                ids.append(json.loads(text.removeprefix("data: "))["sequence"])
        assert types[0] == "JobSubmitted" and types[-1] == "JobCompleted"
        assert ids == list(range(1, len(ids) + 1))


async def test_idempotency_key_returns_the_same_job(system):
    base = system.base_url
    async with system.http() as http:
        headers = {"Idempotency-Key": "order-42"}
        async with http.post(f"{base}/v1/jobs", json=ARTICLE, headers=headers) as resp:
            first = await resp.json()
        await _wait_done(http, base, first["job_id"], system)
        async with http.post(f"{base}/v1/jobs", json=ARTICLE, headers=headers) as resp:
            assert resp.status == 200
            second = await resp.json()
        assert second["job_id"] == first["job_id"] and second["status"] == "completed"
        async with http.post(f"{base}/v1/jobs", json={**ARTICLE, "priority": 9}, headers=headers) as resp:
            assert resp.status == 422  # the key again with another request: refused, not answered with this job
            assert (await resp.json())["error"]["code"] == "idempotency_key_reused"
        async with http.get(f"{base}/v1/jobs?limit=10") as resp:
            assert len((await resp.json())["jobs"]) == 1
