"""The demo: sample jobs through the real pipeline, live progress per stage, then the articles and a summary."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
from rich import box
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from agents.slug import slugify
from planperfect.processes import ROLES, child_env, spawn, stop_children
from planperfect.settings import Settings
from streams.payloads import PIPELINES, JobType

SAMPLES = [
    ("article", {"title": "Choosing a Heat Pump for an Old House", "keywords": ["heat pump", "insulation", "energy bill"],
                 "domain": "greenhome.example", "word_count": 1200, "audience": "homeowners"}),
    ("article", {"title": "A Practical Guide to Kafka Consumer Lag", "keywords": ["consumer lag", "partitions", "monitoring"],
                 "domain": "streamops.example", "word_count": 1000}),
    ("schema", {"title": "Acme Widgets Returns FAQ", "keywords": ["returns", "refund", "shipping"], "schema_type": "FAQPage",
                "domain": "acme.example", "url": "https://acme.example/returns"}),
    ("article", {"title": "Sourdough Starter Troubleshooting", "keywords": ["sourdough starter", "hydration", "feeding schedule"],
                 "domain": "breadlab.example", "word_count": 800}),
    ("schema", {"title": "Lumen Desk Lamp", "keywords": ["desk lamp", "dimmable"], "schema_type": "Product",
                "description": "A dimmable LED desk lamp with a warm-to-cool colour range."}),
    ("article", {"title": "Onboarding Remote Engineers in Their First Week", "keywords": ["onboarding", "remote engineers", "mentoring"],
                 "domain": "teamcraft.example", "word_count": 1100}),
]

MARK = {"completed": "[green]✔[/]", "running": "[yellow]▶[/]", "failed": "[red]✘[/]", "pending": "[dim]·[/]"}
TERMINAL = ("completed", "failed", "cancelled", "dead_lettered")


def output_stem(index: int) -> str:
    """The file name (without suffix) of the `index`-th demo job's outputs: its sample's slug, so that a re-run
    replaces its own files; a sample's second round of jobs (more jobs than samples) gets `-2`, and so on."""
    _, payload = SAMPLES[index % len(SAMPLES)]
    rounds = index // len(SAMPLES)
    return slugify(payload["title"]) + (f"-{rounds + 1}" if rounds else "")


def demo_console() -> Console:
    """Colour and live tables on a terminal; plain, unwrapped lines when the output is a file or a pipe."""
    console = Console()
    if not console.is_terminal:
        console = Console(no_color=True, highlight=False, emoji=False, width=200)
    return console


def _rule(console: Console, title: str) -> None:
    if console.is_terminal:
        console.rule(title)
    else:
        console.print(f"== {Text.from_markup(title).plain}")


def run_demo(settings: Settings, *, jobs: int, monitor: bool = False) -> int:
    from planperfect.cli import prepared

    console = demo_console()
    _rule(console, "[bold]PlanPerfect demo")
    with prepared(settings, echo=lambda line: console.print(f"[dim]{line}[/]", markup=True)):
        return _demo(settings, console, jobs=jobs, monitor=monitor)


def _demo(settings: Settings, console: Console, *, jobs: int, monitor: bool) -> int:
    log_dir = settings.data_dir / "logs"
    children = [spawn(role, child_env(settings), log_dir) for role in ROLES]
    console.print(f"started worker, projector and api (logs in {log_dir})")

    def check_children() -> None:
        """A child that died ends the demo at once, rather than after the jobs' deadline."""
        for role, child in zip(ROLES, children):
            if child.poll() is not None:
                raise DemoError(f"the {role} exited with code {child.returncode}; see {log_dir / f'{role}.log'}")

    try:
        status = asyncio.run(_drive(settings, console, jobs, check_children, monitor))
        if monitor:
            keep_monitor_up(console, monitor_url(settings), check_children)
        return status
    except DemoError as exc:
        console.print(f"[red]demo stopped: {exc}")
        return 1
    finally:
        stop_children(children)


def monitor_url(settings: Settings) -> str:
    return f"http://{settings.api_host}:{settings.api_port}/"


def keep_monitor_up(console: Console, url: str, check: Callable[[], None]) -> None:
    """`demo --monitor`: the system stays up for the web monitor until Ctrl-C (or a child dies)."""
    console.print(f"the web monitor stays up at {url} - press Ctrl-C to stop")
    try:
        while True:
            check()
            time.sleep(1)
    except KeyboardInterrupt:
        console.print("stopping")


class DemoError(RuntimeError):
    """The demo cannot go on; the message says why and where to look."""


async def _drive(settings: Settings, console: Console, n: int, check: Callable[[], None], monitor: bool = False) -> int:
    from planperfect.api_key import auth_headers

    base = f"http://{settings.api_host}:{settings.api_port}"
    async with aiohttp.ClientSession(headers=auth_headers(settings)) as http:
        await _wait_ready(http, base, check)
        if monitor:
            console.print(f"web monitor: {monitor_url(settings)}")
        ids: list[str] = []
        stems: dict[str, str] = {}
        t0 = time.monotonic()
        for i in range(n):
            job_type, payload = SAMPLES[i % len(SAMPLES)]
            body = {"job_type": job_type, "requester_email": "demo@planperfect.example", "payload": payload}
            async with http.post(f"{base}/v1/jobs", json=body) as resp:
                if resp.status != 202:
                    console.print(f"[red]intake refused a sample job: {resp.status} {await resp.text()}")
                    return 1
                ids.append((await resp.json())["job_id"])
                stems[ids[-1]] = output_stem(i)
        console.print(f"submitted {len(ids)} jobs")
        jobs = await _watch(http, base, ids, console, check)
        elapsed = time.monotonic() - t0
        status = await _report(http, base, jobs, stems, elapsed, settings.output_dir, console)
        _rule(console, "pacing: a user's posts from their own documents and meetings")
        from planperfect.pacing_demo import PacingDemoError, pacing_demo

        try:
            await pacing_demo(base, http)
        except PacingDemoError as exc:
            console.print(f"[red]pacing demo failed: {exc}")
            return 1
        return status


async def _wait_ready(http: aiohttp.ClientSession, base: str, check: Callable[[], None], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        check()
        try:
            async with http.get(f"{base}/readyz") as resp:
                if resp.status == 200:
                    return
                last = await resp.text()
        except aiohttp.ClientError as exc:
            last = str(exc)
        await asyncio.sleep(0.2)
    raise DemoError(f"the API did not become ready within {timeout}s: {last}")


async def _fetch(http: aiohttp.ClientSession, base: str, job_id: str) -> dict | None:
    async with http.get(f"{base}/v1/jobs/{job_id}") as resp:
        return await resp.json() if resp.status == 200 else None


async def _watch(http: aiohttp.ClientSession, base: str, ids: list[str], console: Console, check: Callable[[], None],
                 timeout: float = 300) -> list[dict]:
    deadline = time.monotonic() + timeout
    jobs: dict[str, dict] = {}
    said: dict[str, str] = {}  # without a terminal: one line per job and status, instead of a live table
    live = Live(_progress_table(ids, jobs), console=console, refresh_per_second=8) if console.is_terminal else None
    with live if live is not None else contextlib.nullcontext():
        while time.monotonic() < deadline:
            check()
            for job_id in ids:
                job = await _fetch(http, base, job_id)
                if job is not None:
                    jobs[job_id] = job
            if live is not None:
                live.update(_progress_table(ids, jobs))
            else:
                for job_id, job in jobs.items():
                    if said.get(job_id) != job["status"]:
                        said[job_id] = job["status"]
                        console.print(progress_line(job), markup=False)
            if len(jobs) == len(ids) and all(j["status"] in TERMINAL for j in jobs.values()):
                break
            await asyncio.sleep(0.15)
    return [jobs[i] for i in ids if i in jobs]


def progress_line(job: dict) -> str:
    """One job's progress without a terminal: the full title (a file or pipe has the width), padded to align."""
    return f"{job['title']:40}  {job['job_type']:8}  {job['status']}"


def _progress_table(ids: list[str], jobs: dict[str, dict]) -> Table:
    table = Table(title="jobs", expand=False)
    table.add_column("job")
    table.add_column("type")
    table.add_column("title")
    table.add_column("stages")
    table.add_column("status")
    for job_id in ids:
        job = jobs.get(job_id)
        if job is None:
            table.add_row(job_id[:8], "", "", "[dim]waiting for the log…[/]", "submitted")
            continue
        marks = " ".join(f"{MARK.get(s['status'], '·')} {s['stage']}" for s in job["stages"])
        table.add_row(job_id[:8], job["job_type"], job["title"][:40], marks, job["status"])
    return table


async def _report(http, base: str, jobs: list[dict], stems: dict[str, str], elapsed: float, out_dir: Path,
                  console: Console) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = Table(title="summary", box=None if not console.is_terminal else box.HEAVY_HEAD)
    for col in ("title", "type", "end to end", "stage timings (ms)", "words", "QA"):
        summary.add_column(col)
    written: list[Path] = []
    done = [j for j in jobs if j["status"] == "completed"]
    for job in jobs:
        timings = " ".join(f"{s['stage']}={s['duration_ms']}" for s in job["stages"] if s["duration_ms"] is not None)
        e2e = "-"
        if job["completed_at"]:
            from datetime import datetime

            e2e = f"{(datetime.fromisoformat(job['completed_at']) - datetime.fromisoformat(job['queued_at'])).total_seconds():.2f}s"
        words, qa_text = "-", job["status"]
        if job["status"] == "completed":
            async with http.get(f"{base}/v1/jobs/{job['job_id']}/result") as resp:
                result = await resp.json()
            written += write_result(out_dir, stems[job['job_id']], result)
            qa = result.get("qa") or {}
            if job["job_type"] == JobType.ARTICLE.value:
                words = f"{qa.get('word_count')}/{qa.get('target_word_count')}"
                qa_text = (f"{'pass' if qa.get('passed') else 'FAIL'} · flesch {qa.get('flesch_reading_ease', 0):.0f}"
                           f" · keywords missing {len(qa.get('missing_keywords', []))}")
            else:
                qa_text = f"{'valid' if qa.get('passed') else 'INVALID'} {qa.get('schema_type', '')}"
        title = job["title"][:36] if console.is_terminal else job["title"]  # a file or pipe has the width
        summary.add_row(title, job["job_type"], e2e, timings, words, qa_text)
    console.print(summary)
    console.print(f"{len(done)}/{len(jobs)} jobs completed in {elapsed:.2f}s "
                  f"({len(done) / elapsed if elapsed else 0:.2f} jobs/s) through {sum(len(PIPELINES[JobType(j['job_type'])]) for j in done)} stages")
    if written:
        _rule(console, "exported articles")
        for path in written:
            console.print(f"  {path}")
        first_md = next((p for p in written if p.suffix == ".md"), None)
        if first_md is not None:
            _rule(console, f"{first_md.name} (first 25 lines)")
            console.print("\n".join(first_md.read_text().splitlines()[:25]), markup=False, highlight=False)
    return 0 if len(done) == len(jobs) else 1


def write_result(out_dir: Path, stem: str, result: dict) -> list[Path]:
    """The job's exports as `stem.md`, `stem.html` (articles) and `stem.jsonld`, replacing a previous run's."""
    paths = []
    if "markdown" in result:
        for suffix, text in ((".md", result["markdown"]), (".html", result["html"])):
            path = out_dir / f"{stem}{suffix}"
            path.write_text(text)
            paths.append(path)
    path = out_dir / f"{stem}.jsonld"
    path.write_text(json.dumps(result["json_ld"], indent=2))
    paths.append(path)
    return paths
