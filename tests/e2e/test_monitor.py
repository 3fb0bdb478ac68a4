"""The web monitor in a real browser (Debian's chromium through Playwright) against real processes."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
import uuid
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, async_playwright, expect
from prometheus_client.parser import text_string_to_metric_families

from api.keys import key_id_of
from streams.payloads import Stage
from streams.topics import Lane
from tests.conftest import create_database, create_prefix, delete_prefix, drop_database
from tests.e2e.conftest import running_system, wait_ready
from tests.e2e.test_pacing import add_context, post
from tests.support import api_session, eventually

CHROMIUM = "/usr/bin/chromium"
LONG = 90_000  # ms: the longest a page may take to show what a job or an analysis does
# Set to a folder (e.g. docs) to also keep the README's two screenshots there.
DOCS_SHOTS = os.environ.get("PLANPERFECT_MONITOR_SCREENSHOTS")


@pytest.fixture(scope="module")
async def monitored(infra):
    """One system for the module: fault injection on (dead letters on demand), pacing ticks every second, keys
    checked again every second (a revoked key's open stream ends within that)."""
    database, prefix = await create_database(infra), await create_prefix(infra)
    work = Path(tempfile.mkdtemp(prefix="planperfect-monitor-"))
    try:
        async with running_system(infra, database, prefix, work, PLANPERFECT_FAULT_INJECTION="1",
                                  PLANPERFECT_PACING_TICK_SECONDS="1", PLANPERFECT_WORKER_CONCURRENCY="4",
                                  PLANPERFECT_API_KEY_CACHE_SECONDS="1") as system:
            yield system
    finally:
        await drop_database(infra, database)
        await delete_prefix(infra, prefix)


@pytest.fixture(scope="module")
async def browser():
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


@asynccontextmanager
async def browsing(browser: Browser, refusals: list[str] | None = None):
    """A fresh browser context (no cookies) and a page in it that must raise no JavaScript error, nor have anything
    refused by a Content-Security-Policy unless `refusals` is given to collect them."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Anything the Content-Security-Policy refused (an inline script or style, an asset from elsewhere) is an error.
    refused = errors if refusals is None else refusals
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    try:
        yield page
    finally:
        await context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


async def sign_in(page: Page, base: str, key: str, then: str = "/") -> None:
    """Sign in as a person does: a page without a session sends the browser to the sign-in form, and back."""
    await page.goto(f"{base}{then}")
    await page.wait_for_url(re.compile(r"/monitor/sign-in\?next="))
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{base}{then}")


@pytest.fixture
async def page(browser: Browser, monitored):
    async with browsing(browser) as page:
        await sign_in(page, monitored.base_url, monitored.key)
        yield page


async def shot(page: Page, tmp_path: Path, name: str, docs_name: str | None = None) -> None:
    """A screenshot as a test artifact; the README's ones are also copied when DOCS_SHOTS names a folder."""
    path = tmp_path / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    if DOCS_SHOTS and docs_name:
        shutil.copy(path, Path(DOCS_SHOTS) / docs_name)


async def test_overview_shows_every_stage_and_lane_and_updates_live(monitored, page, tmp_path):
    await page.goto(f"{monitored.base_url}/")
    table = page.locator("table.stages")
    await expect(table).to_be_visible()
    rows = table.locator("tbody tr")
    await expect(rows).to_have_count(len(Stage) * len(Lane))
    for stage in Stage:
        await expect(table.locator(f'tr[data-stage="{stage.value}"]')).to_have_count(len(Lane))
    section = page.locator("#overview")
    await expect(section).to_have_attribute("data-updates", "2", timeout=15_000)  # two pushes: it is live
    await page.locator("#show-idle").check()
    await shot(page, tmp_path, "overview")
    await page.set_viewport_size({"width": 390, "height": 844})
    await shot(page, tmp_path, "overview-phone")


async def test_submit_form_shows_errors_per_field_then_the_timeline_reaches_completed_live(monitored, page, tmp_path):
    # The second submission is taken by the API but answered 503 (as when Kafka acknowledged too late): Submit
    # again must not make a second job. Each submission carries an Idempotency-Key, the same one for the same form
    # sent again.
    sent: list[str | None] = []

    async def answer(route):
        sent.append(await route.request.header_value("Idempotency-Key"))
        if len(sent) == 2:
            await route.fetch()
            await route.fulfill(status=503, json={"error": {"code": "kafka_unavailable", "message": "retry later"}})
        else:
            await route.continue_()

    await page.route("**/v1/jobs", answer)
    await page.goto(f"{monitored.base_url}/monitor/submit")
    await page.get_by_label("Title").fill("ab")
    await page.get_by_label("Priority (0–10)").fill("11")
    await page.get_by_role("button", name="Submit").click()
    # The API's own 422 details, each beside its field.
    await expect(page.locator('[id="e-payload.title"]')).to_contain_text("at least 3")
    await expect(page.locator('[id="e-priority"]')).to_contain_text("less than or equal to 10")
    await expect(page.get_by_label("Title")).to_have_attribute("aria-invalid", "true")
    await shot(page, tmp_path, "submit-errors")

    await page.get_by_label("Title").fill("Heat pumps for old houses, watched live")
    await page.get_by_label("Keywords (comma-separated)").fill("heat pump, retrofit")
    await page.get_by_label("Priority (0–10)").fill("8")
    await page.get_by_role("button", name="Submit").click()
    await expect(page.locator("#form-problem")).to_contain_text("503 kafka_unavailable")
    await page.get_by_role("button", name="Submit").click()
    await page.wait_for_url("**/monitor/jobs/*")
    assert len(sent) == 3 and sent[0] and sent[1] == sent[2] != sent[0], sent  # a changed form: a new key
    job_id = page.url.rsplit("/", 1)[1]
    loads: list[str] = []
    page.on("load", lambda: loads.append(page.url))
    await expect(page.locator("#job-status")).to_have_text("completed", timeout=LONG)
    assert loads == [], "the page reloaded; it should update in place"
    await expect(page.locator("ol.timeline li")).to_have_count(6)  # research .. complete, one bar row each
    await expect(page.frame_locator("iframe.article").locator("h1")).to_have_text("Heat pumps for old houses, watched live")
    await expect(page.locator("pre.code").first).to_contain_text("schema.org")
    await shot(page, tmp_path, "job", "monitor-job.png")

    # Latency: from an event's time on the log to the moment the page showed it.
    seen = await page.evaluate("window.monitorSeen")
    async with monitored.http() as http:
        async with http.get(f"{monitored.base_url}/v1/jobs/{job_id}/events") as resp:
            events = (await resp.json())["events"]
    lags = sorted(seen[str(e["sequence"])] / 1000 - datetime.fromisoformat(e["occurred_at"]).timestamp()
                  for e in events if str(e["sequence"]) in seen)
    assert lags, seen
    print(f"event on the log -> on the page: median {lags[len(lags) // 2] * 1000:.0f} ms, "
          f"max {lags[-1] * 1000:.0f} ms over {len(lags)} events")

    # /metrics counts the same stage events the pages show, per stage and lane (priority 8: high).
    high_research = (("lane", "high"), ("stage", "research"))

    async def scraped() -> dict | None:
        """The figures once the worker's commit has caught up with its research (the queue is its lag: a commit
        follows the completion by up to the commit interval)."""
        async with monitored.http() as http:
            async with http.get(f"{monitored.base_url}/metrics") as resp:
                assert resp.status == 200 and resp.content_type == "text/plain"
                found = {(s.name, tuple(sorted(s.labels.items()))): s.value
                         for f in text_string_to_metric_families(await resp.text()) for s in f.samples}
        return found if found.get(("planperfect_queue_length", high_research)) == 0 else None

    metrics = await eventually(scraped, timeout=30, interval=0.5, what="research queue drained in /metrics")
    assert metrics[("planperfect_stage_completed_total", high_research)] >= 1
    assert metrics[("planperfect_stage_handler_duration_seconds_count", high_research)] >= 1
    assert metrics[("planperfect_queue_length", high_research)] == 0
    assert metrics[("planperfect_kafka_up", ())] == 1

    await page.goto(f"{monitored.base_url}/monitor/jobs?text=watched+live")
    await expect(page.locator("table.jobs tbody tr")).to_have_count(1)  # one job for the two clicks
    await shot(page, tmp_path, "jobs")


async def test_a_dead_letter_is_redriven_by_clicking_after_a_confirmation(monitored, page, tmp_path):
    base = monitored.base_url
    body = {"job_type": "article", "requester_email": "qa@example.com", "max_attempts": 2, "retry_delay_seconds": 0,
            "payload": {"title": "Flaky outline [fault:outline:transient:2]", "word_count": 300}}
    async with monitored.http() as http:
        job_id = (await post(http, f"{base}/v1/jobs", body))["job_id"]

        async def letters():
            async with http.get(f"{base}/v1/dlq?job_id={job_id}") as resp:
                return (await resp.json())["dead_letters"]

        letter = (await eventually(letters, timeout=60, what="the job dead-lettered"))[0]
    await page.goto(f"{base}/monitor/dead-letters?status=dead&job_id={job_id}")
    await page.get_by_label(f"Select the outline dead letter of job {job_id}").check()
    await shot(page, tmp_path, "dead-letters")
    dialogs: list[str] = []

    async def confirm(dialog):
        dialogs.append(dialog.message)
        await dialog.accept()

    page.once("dialog", confirm)
    await page.get_by_role("button", name="Redrive selected").click()
    await expect(page.locator("#redrive-result")).to_contain_text(f"job {job_id} back at outline")
    assert dialogs and "Redrive 1 dead letter(s) of 1 job(s)" in dialogs[0] and "(outline)" in dialogs[0], dialogs
    await page.get_by_role("link", name="follow the job").click()
    await expect(page.locator("#job-status")).to_have_text("completed", timeout=LONG)
    await expect(page.locator("ol.timeline .mark.redriven")).to_have_count(1)
    await page.goto(f"{base}/monitor/dead-letters/{letter['dead_letter_id']}")
    await expect(page.locator("dd.letter-status")).to_contain_text("redriven")
    await shot(page, tmp_path, "dead-letter")


async def test_a_cross_site_form_post_is_refused_and_same_origin_fetch_works(monitored, page):
    # localhost and 127.0.0.1 are different sites to the browser: a page on one posting to the other (not a monitor
    # page: their Content-Security-Policy lets no form post elsewhere).
    target = f"{monitored.base_url}/v1/jobs/{uuid.uuid4()}/cancel"
    async with another_local_server() as other:
        await page.goto(f"http://localhost:{other.port}/")
        async with page.expect_response(target) as answer:
            await page.evaluate("""(url) => { const f = document.createElement("form"); f.method = "post";
                                              f.action = url; document.body.append(f); f.submit(); }""", target)
        resp = await answer.value
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "cross_site_request"
    await page.goto(f"{monitored.base_url}/monitor/submit")
    same = await page.evaluate("""async (url) => (await fetch(url, {method: "POST",
                                     headers: {"X-Requested-With": "planperfect-monitor"}})).status""", target)
    assert same == 404  # through the guard to the route: an unknown job


@asynccontextmanager
async def another_local_server(html: str = "another local site"):
    """Any other web server of this machine (a notebook, a dev server): another port of 127.0.0.1. It records the
    Cookie header of every request it gets, and answers `html`."""
    seen: list[str] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie", ""))
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", record)
    async with TestServer(app, host="127.0.0.1") as server:
        server.seen = seen
        yield server


async def test_sign_in_stays_on_the_monitor_and_its_cookie_is_no_key_for_other_local_servers(monitored, browser):
    base, key = monitored.base_url, monitored.key
    async with another_local_server() as other, browsing(browser) as page:
        elsewhere = f"127.0.0.1:{other.port}/phish"
        # Links to the real sign-in page whose `next` a browser reads as another site (it drops tab, CR and LF).
        for hostile in (f"/\t/{elsewhere}", f"/\n/{elsewhere}", f"/\\{elsewhere}", f"//{elsewhere}",
                        f"http://{elsewhere}", f"/%2F%2F{elsewhere}", "javascript:alert(document.domain)"):
            await page.goto(f"{base}/monitor/sign-in?next={quote(hostile, safe='')}")
            await page.get_by_label("API key").fill(key)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url(f"{base}/")
            await expect(page.locator("#overview")).to_be_visible()
        assert other.seen == [], other.seen  # never sent there
        cookies = await page.context.cookies()
        assert [c["name"] for c in cookies] == ["planperfect_session"], cookies
        assert key.split("_", 2)[2] not in cookies[0]["value"]
        # A browser sends a host's cookies to all its ports: the other server gets the session id, never the key.
        await page.goto(f"http://{elsewhere}")
        await expect(page.locator("body")).to_have_text("another local site")
        assert other.seen and all("planperfect_session=" in c for c in other.seen), other.seen
        assert not any(key.split("_", 2)[2] in c for c in other.seen), "the key reached another local server"


async def test_pacing_run_now_shows_generations_whose_citations_open_the_chunk(monitored, page, tmp_path):
    base, user, zone = monitored.base_url, f"mon-{uuid.uuid4().hex[:8]}", "America/New_York"
    async with monitored.http() as http:
        # A slot just after midnight: the scheduler leaves today to the button.
        await post(http, f"{base}/v1/pacing/schedules", {"user_id": user, "time_zone": zone, "local_times": ["00:00:01"]})
        await add_context(http, base, user, zone, docs=3, meetings=2)
    await page.goto(f"{base}/monitor/pacing?user_id={user}")
    section = page.locator(f'section[data-user="{user}"]')
    await expect(section.locator("td", has_text=zone)).to_have_count(1)

    async def listed() -> bool:  # the schedule, knowledge and meetings are projected
        await page.reload()
        return await section.locator("details li").count() >= 5

    await eventually(listed, timeout=30, what="the user's context listed")
    await section.get_by_role("button", name="Run now").click()
    local = datetime.now(ZoneInfo(zone)).date().isoformat()
    await expect(section.locator(".run-result")).to_contain_text(f"for {local}")

    async def cited() -> int:
        await page.reload()
        return await section.locator("a.citation").count()

    await eventually(cited, timeout=LONG / 1000, interval=1, what="generations with citations")
    await shot(page, tmp_path, "pacing")
    first = section.locator("a.citation").first
    await first.click()
    await page.wait_for_url("**/monitor/pacing/chunks/*")
    text = await page.locator("#chunk-text").inner_text()
    assert len(text.split()) >= 5, text
    await shot(page, tmp_path, "chunk")


async def test_a_reader_sees_no_actions_and_is_refused_them_and_a_wrong_key_is_not_signed_in(monitored, browser):
    base = monitored.base_url
    async with monitored.http() as http:  # an admin makes a reader key through the API
        async with http.post(f"{base}/v1/keys", json={"name": "monitor reader", "role": "reader"}) as resp:
            assert resp.status == 201, await resp.text()
            reader = await resp.json()
        async with http.post(f"{base}/v1/keys", json={"name": "monitor operator", "role": "operator"}) as resp:
            operator = await resp.json()
        async with http.post(f"{base}/v1/jobs", json={"job_type": "article", "delay_seconds": 3600,
                                                      "payload": {"title": "Waits an hour for a reader to see it"}}) as resp:
            job_id = (await resp.json())["job_id"]
    async with browsing(browser) as page:
        await page.goto(f"{base}/monitor/jobs")
        await page.wait_for_url(re.compile(r"/monitor/sign-in\?next=.*jobs$"))
        await page.get_by_label("API key").fill(operator["key"][:-4] + "AAAA")  # a key that is not one
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator('[id="e-key"]')).to_contain_text("unknown, revoked or malformed")
        await page.get_by_label("API key").fill(reader["key"])
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(f"{base}/monitor/jobs")
        await expect(page.locator("header .who")).to_contain_text("monitor reader (reader)")
        cookie = (await page.context.cookies())[0]
        assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Strict"), cookie
        assert await page.evaluate("document.cookie") == ""  # out of reach of the page's scripts

        await page.goto(f"{base}/monitor/jobs/{job_id}")
        await expect(page.locator("#job-status")).to_have_text("queued", timeout=LONG)
        await expect(page.get_by_role("button", name="Cancel this job")).to_have_count(0)
        await page.goto(f"{base}/monitor/dead-letters")
        await expect(page.locator("#redrive-help")).to_have_text("Redriving needs an operator key.")
        for name in ("Redrive selected", "Select all shown"):
            await expect(page.get_by_role("button", name=name)).to_have_count(0)
        await page.goto(f"{base}/monitor/pacing")
        await expect(page.get_by_role("button", name="Run now")).to_have_count(0)
        for url in (f"/v1/jobs/{job_id}/cancel", f"/v1/dlq/{uuid.uuid4()}/redrive"):  # tried anyway: refused
            answer = await page.evaluate("""async (url) => { const r = await fetch(url, {method: "POST"});
                                            return [r.status, (await r.json()).error.code]; }""", url)
            assert answer == [403, "forbidden"], (url, answer)
        await page.get_by_role("button", name="Sign out").click()
        await page.wait_for_url(re.compile(r"/monitor/sign-in$"))
        assert await page.context.cookies() == []
    async with browsing(browser) as page:  # an operator is offered the cancel, and it works
        await sign_in(page, base, operator["key"], f"/monitor/jobs/{job_id}")
        async def confirm(dialog):
            await dialog.accept()

        page.once("dialog", confirm)
        await page.get_by_role("button", name="Cancel this job").click()
        await expect(page.locator("#job-status")).to_have_text("cancelled", timeout=LONG)
    async with api_session(reader["key"]) as http, http.get(f"{base}/v1/jobs/{job_id}/events") as resp:
        events = (await resp.json())["events"]
    assert events[-1]["type"] == "JobCancelled", events
    assert events[-1]["by"] == f"key:{operator['key_id']} (monitor operator)", events[-1]  # who, on the timeline


async def test_a_tenant_bound_reader_sees_its_tenants_jobs_only(monitored, browser):
    base = monitored.base_url
    keys, jobs = {}, {}
    async with monitored.http() as http:  # an admin makes the tenants' keys through the API
        for name, role, tenant in (("acme reader", "reader", "acme"), ("acme submitter", "submitter", "acme"),
                                   ("globex submitter", "submitter", "globex")):
            async with http.post(f"{base}/v1/keys", json={"name": name, "role": role, "tenant": tenant}) as resp:
                assert resp.status == 201, await resp.text()
                keys[name] = (await resp.json())["key"]
    for who in ("acme submitter", "globex submitter"):
        async with api_session(keys[who]) as http:
            async with http.post(f"{base}/v1/jobs", json={"job_type": "article", "delay_seconds": 3600,
                                                          "payload": {"title": f"Waits for {who}"}}) as resp:
                assert resp.status == 202, await resp.text()
                jobs[who] = (await resp.json())["job_id"]
            async with http.get(f"{base}/v1/jobs/{jobs[who]}") as resp:  # waits until the read model holds it
                assert resp.status == 200, await resp.text()
    async with browsing(browser) as page:
        await sign_in(page, base, keys["acme reader"], "/monitor/jobs")
        await expect(page.locator("header .who")).to_contain_text("acme reader (reader, tenant acme)")
        await expect(page.get_by_role("link", name="Waits for acme submitter")).to_have_count(1)
        await expect(page.get_by_role("link", name="Waits for globex submitter")).to_have_count(0)
        await expect(page.get_by_role("navigation").get_by_role("link", name="Projections")).to_have_count(0)
        await page.goto(f"{base}/monitor/jobs/{jobs['globex submitter']}")
        await expect(page.locator("main")).to_contain_text("no job")
    # The reader follows a job that waits an hour; its key is revoked: the stream ends, not at the job's end.
    async with api_session(keys["acme reader"]) as http:
        async with http.get(f"{base}/v1/jobs/{jobs['acme submitter']}/stream") as stream:
            assert stream.status == 200
            assert b"event: JobSubmitted" in await stream.content.readuntil(b"\n\n")
            async with monitored.http() as admin:
                async with admin.post(f"{base}/v1/keys/{key_id_of(keys['acme reader'])}/revoke") as resp:
                    assert resp.status == 200, await resp.text()
            await asyncio.wait_for(stream.content.read(), timeout=15)  # EOF within the key-cache time (1 s here)


async def test_the_overview_resumes_by_itself_after_an_api_restart(monitored, page, tmp_path):
    await page.goto(f"{monitored.base_url}/")
    section = page.locator("#overview")
    await expect(section).to_have_attribute("data-updates", "1", timeout=15_000)
    monitored.children["api"].stop()
    await expect(page.locator("#live-status")).to_have_text("reconnecting…", timeout=15_000)
    before = int(await section.get_attribute("data-updates"))
    monitored.start("api")
    await wait_ready(monitored.base_url, monitored)

    async def resumed() -> bool:
        return int(await section.get_attribute("data-updates")) >= before + 2

    await eventually(resumed, timeout=20, what="overview updates after the restart")
    await expect(page.locator("#live-status")).to_have_text("live")
    await shot(page, tmp_path, "overview-after-restart", "monitor-overview.png")  # the jobs above on the sparklines
    await page.goto(f"{monitored.base_url}/monitor/projections")
    await expect(page.locator("tbody tr").first).to_be_visible()
    await shot(page, tmp_path, "projections")


async def test_another_local_page_cannot_frame_the_signed_in_monitor(monitored, browser):
    """Clickjacking: a page on another port of the same host is the same site, so the browser would send the
    session cookie to a framed monitor page; the monitor's answers forbid any framing, so the frame stays empty."""
    base = monitored.base_url
    async with monitored.http() as http:
        async with http.post(f"{base}/v1/jobs", json={"job_type": "article", "delay_seconds": 3600,
                                                      "payload": {"title": "Framed, never cancelled"}}) as resp:
            job_id = (await resp.json())["job_id"]
        async with http.get(f"{base}/v1/jobs/{job_id}") as resp:
            assert resp.status == 200
    target = f"{base}/monitor/jobs/{job_id}"
    prize = f'<h1>Win a prize</h1><iframe id="framed" src="{target}" width="800" height="600"></iframe>'
    refusals: list[str] = []
    async with another_local_server(prize) as other, browsing(browser, refusals) as page:
        await sign_in(page, base, monitored.key)
        async with page.expect_response(target) as answered:
            await page.goto(f"http://127.0.0.1:{other.port}/prize")
        resp = await answered.value
        assert resp.status == 200  # signed in: the cookie went along, and the answer forbids the frame
        headers = await resp.all_headers()
        assert "frame-ancestors 'none'" in headers["content-security-policy"] and headers["x-frame-options"] == "DENY"
        await expect(page.locator("h1")).to_have_text("Win a prize")
        framed = page.frame_locator("#framed")
        await expect(framed.locator("#job-status")).to_have_count(0)
        await expect(framed.get_by_role("button", name="Cancel this job")).to_have_count(0)
        frames = [f for f in page.frames if f != page.main_frame]
        assert frames, "no frame"
        for frame in frames:
            assert "Cancel this job" not in await frame.content(), frame.url

        async def refused() -> bool:  # chromium says why it left the frame empty
            return any("frame-ancestors 'none'" in r for r in refusals)

        await eventually(refused, timeout=10, what="chromium refusing the frame")
    async with browsing(browser) as page:  # the monitor itself still works under its own policy: nothing refused
        await sign_in(page, base, monitored.key, f"/monitor/jobs/{job_id}")
        await expect(page.locator("#job-status")).to_have_text("queued")
        await expect(page.locator("ol.timeline .bar").first).to_have_attribute("style", re.compile(r"left: [\d.]+%"))
        await page.goto(f"{base}/docs")  # Swagger UI too: its one inline script is allowed by its hash, no other
        await expect(page.locator(".swagger-ui .info .title")).to_contain_text("PlanPerfect", timeout=15_000)


async def test_a_submitter_submits_in_the_monitor_and_follows_its_own_job_only(monitored, browser):
    base = monitored.base_url
    keys = {}
    async with monitored.http() as http:
        for name in ("form submitter", "other submitter"):
            async with http.post(f"{base}/v1/keys", json={"name": name, "role": "submitter"}) as resp:
                keys[name] = (await resp.json())["key"]
    async with api_session(keys["other submitter"]) as http:
        async with http.post(f"{base}/v1/jobs", json={"job_type": "article", "delay_seconds": 3600,
                                                      "payload": {"title": "Another submitter's job"}}) as resp:
            others = (await resp.json())["job_id"]
    async with browsing(browser) as page:
        await sign_in(page, base, keys["form submitter"], "/monitor/submit")
        await page.get_by_label("Title").fill("A submitter's own job, followed")
        await page.get_by_label("Delay (seconds)").fill("3600")
        await page.get_by_role("button", name="Submit").click()
        await page.wait_for_url("**/monitor/jobs/*")
        await expect(page.locator("#job-status")).to_have_text("queued", timeout=LONG)
        await expect(page.locator("h1")).to_have_text("A submitter's own job, followed")
        await expect(page.get_by_role("button", name="Cancel this job")).to_have_count(0)  # an operator's
        await page.goto(f"{base}/monitor/jobs/{others}")
        await expect(page.locator("main")).to_contain_text("no job")  # another's job: not there, as in the API