"""Vendor failures through the real SDKs: each status is retried (after at least the vendor's retry-after) or
dead-lettered with the vendor's message, timeouts and refused connections are retried, a cancelled call hangs
up, a broken JSON answer is repaired once, and no key shows in anything raised or logged."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from agents.errors import PermanentError, StageError, TransientError
from agents.providers import config as provider_config
from agents.retry import DeadLetter, Retry, decide
from streams.payloads import Brief
from tests.fakes.scripted_model import scripted_model
from tests.fakes.vendor import InjectedError
from tests.fakes.secret_scan import no_key_in_any_log  # noqa: F401  (autouse: scans every log line)
from tests.fakes.wiring import SECRET, settings_for, wired
from tests.support import eventually, free_port

BRIEF = Brief(title="Composting in a Small Garden", keywords=["compost bin", "green waste"], word_count=600)

# (status, retry-after header) -> retried?, least delay the retry waits
TABLE = [
    (400, None, False, None),
    (401, None, False, None),
    (403, None, False, None),
    (404, None, False, None),
    (413, None, False, None),
    (422, None, False, None),
    (408, None, True, None),
    (429, "7", True, 7.0),
    (500, None, True, None),
    (502, None, True, None),
    (503, "2", True, 2.0),
]
ANTHROPIC_ONLY = [(529, "11", True, 11.0)]


async def failure_of(vendor: str, status: int, retry_after: str | None) -> StageError:
    async with wired(vendor) as w:
        w.fake.errors.append(InjectedError(status, retry_after, message=f"the vendor says no ({status})"))
        with pytest.raises(StageError) as raised:
            await w.provider.research(BRIEF)
        assert w.fake.violations == []
        assert len(w.fake.requests) == 1  # the SDK's own retries are off: the stage's retry is the only one
        return raised.value


@pytest.mark.parametrize("vendor", ["anthropic", "openai"])
async def test_each_status_is_classified_from_the_sdk_exception(vendor: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    table = TABLE + (ANTHROPIC_ONLY if vendor == "anthropic" else [])
    for status, retry_after, retried, least_delay in table:
        error = await failure_of(vendor, status, retry_after)
        assert error.retryable is retried, (status, error)
        assert f"the vendor says no ({status})" in str(error)  # the vendor's message is kept
        decision = decide(error, attempt=1, max_attempts=3, base_delay=1, job_id=uuid.UUID(int=status))
        if retried:
            assert isinstance(error, TransientError) and error.retry_after == least_delay
            assert isinstance(decision, Retry) and decision.delay_seconds >= (least_delay or 0)
        else:
            assert isinstance(error, PermanentError)
            assert isinstance(decision, DeadLetter) and f"HTTP {status}" in decision.reason
    assert SECRET not in caplog.text


@pytest.mark.parametrize("vendor", ["anthropic", "openai"])
async def test_a_refused_key_is_permanent_and_never_repeated(vendor: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with wired(vendor, key="sk-the-one-the-vendor-knows-1234") as w:
        with pytest.raises(PermanentError) as raised:
            await w.provider.research(BRIEF)
        problem = await provider_config.probe(w.config)
    message = str(raised.value)
    assert "HTTP 401" in message and raised.value.code == "vendor_unauthorized"
    assert problem is not None and ("ANTHROPIC_API_KEY" if vendor == "anthropic" else "OPENAI_API_KEY") in problem
    for text in (message, problem, caplog.text):
        # OpenAI echoes the first and last characters of a refused key
        assert SECRET not in text and f"*****{SECRET[-4:]}" not in text


async def test_an_unknown_model_is_found_at_start() -> None:
    async with wired("openai", model_draft="gpt-9-imaginary") as w:
        w.fake.models = tuple(m for m in w.fake.models if m != "gpt-9-imaginary")
        problem = await provider_config.probe(w.config)
    assert problem is not None and "gpt-9-imaginary" in problem and "PLANPERFECT_MODEL_DRAFT" in problem


async def test_an_allowed_pair_the_vendor_does_not_offer_names_the_allow_list() -> None:
    async with wired("openai") as w:
        settings, env = settings_for("openai", w.fake.base_url, provider_allow="openai:gpt-9-imaginary")
        config = provider_config.resolve_choice(settings, env, "openai", "gpt-9-imaginary")
        assert config is not None
        problem = await provider_config.probe(config)
    assert problem is not None and "openai:gpt-9-imaginary in PLANPERFECT_PROVIDER_ALLOW" in problem
    assert "PLANPERFECT_MODEL" not in problem


@pytest.mark.parametrize("vendor", ["anthropic", "openai"])
async def test_a_vendor_busy_at_start_is_no_reason_to_refuse_to_start(vendor: str, caplog) -> None:
    caplog.set_level(logging.WARNING)
    busy = [(429, "7"), (503, None)] + ([(529, "3")] if vendor == "anthropic" else [])
    async with wired(vendor) as w:
        for status, retry_after in busy:
            w.fake.list_errors.append(InjectedError(status, retry_after, message=f"busy ({status})"))
            assert await provider_config.probe(w.config) is None, status  # a blip: the worker starts
        assert not w.fake.list_errors and "starting anyway" in caplog.text and SECRET not in caplog.text
        w.fake.list_errors.append(InjectedError(401, None, message="no such key"))
        assert "API_KEY" in (await provider_config.probe(w.config) or "")  # a refusal still stops the start


@pytest.mark.parametrize("vendor", ["anthropic", "openai"])
async def test_an_endpoint_that_is_down_is_retried_and_reported_at_start(vendor: str) -> None:
    settings, env = settings_for(vendor, f"http://127.0.0.1:{free_port()}")
    config = provider_config.resolve(settings, env)
    assert config is not None
    provider = provider_config.build(config)
    try:
        with pytest.raises(TransientError) as raised:
            await provider.research(BRIEF)
    finally:
        await provider.close()
    assert raised.value.code == "vendor_unreachable"
    problem = await provider_config.probe(config)
    assert problem is not None and "BASE_URL" in problem


@pytest.mark.parametrize("vendor", ["anthropic", "openai"])
async def test_a_200_that_is_not_the_apis_reply_is_transient_and_reported_at_start(vendor: str) -> None:
    """A base URL that reaches some web server (a proxy's page, a portal) answers 200 with HTML: the SDKs hand that
    over as a string, which used to raise AttributeError out of the worker's start check and every stage."""
    page = web.Application()
    page.router.add_route("*", "/{tail:.*}", lambda _: web.Response(text="<html>It works!</html>",
                                                                    content_type="text/html"))
    async with TestServer(page, host="127.0.0.1") as server:
        settings, env = settings_for(vendor, str(server.make_url("")).rstrip("/"))
        config = provider_config.resolve(settings, env)
        assert config is not None
        provider = provider_config.build(config)
        try:
            with pytest.raises(TransientError) as raised:
                await provider.research(BRIEF)
        finally:
            await provider.close()
        problem = await provider_config.probe(config)
    assert raised.value.code == "vendor_bad_reply"
    assert problem is not None and "not its API's reply" in problem and "BASE_URL" in problem


async def test_the_start_check_gives_up_on_a_silent_endpoint_before_the_model_timeout(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts, reads, never answers

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setattr(provider_config, "PROBE_SECONDS", 0.5)
    settings, env = settings_for("anthropic", f"http://127.0.0.1:{port}", provider_timeout_seconds=120)
    try:
        problem = await asyncio.wait_for(provider_config.probe(provider_config.resolve(settings, env)), timeout=10)
    finally:
        server.close()
    assert problem is not None and "did not answer in time" in problem and "BASE_URL" in problem


async def test_a_slow_vendor_times_out_as_transient() -> None:
    async with wired("anthropic", provider_timeout_seconds=0.5) as w:
        w.fake.hold_next = True
        with pytest.raises(TransientError) as raised:
            await w.provider.research(BRIEF)
        assert raised.value.code == "vendor_timeout"
        await asyncio.wait_for(w.fake.disconnected.wait(), timeout=10)


@pytest.mark.parametrize("vendor", ["anthropic", "openai"])
async def test_cancelling_a_call_closes_its_connection_at_the_vendor(vendor: str) -> None:
    async with wired(vendor) as w:
        w.fake.hold_next = True
        call = asyncio.create_task(w.provider.research(BRIEF))
        async def arrived() -> bool:
            return len(w.fake.requests) == 1

        await eventually(arrived, timeout=10, what="the request reaching the vendor")
        call.cancel()
        await asyncio.wait_for(w.fake.disconnected.wait(), timeout=10)
        with pytest.raises(asyncio.CancelledError):
            await call


def conversation_of(vendor: str, body: dict) -> tuple[str, list[dict[str, str]]]:
    """(system, conversation) of a recorded request body, in the scripted model's terms."""
    if vendor == "anthropic":
        return "".join(b["text"] for b in body["system"]), body["messages"]
    system = "".join(m["content"] for m in body["messages"] if m["role"] == "system")
    return system, [m for m in body["messages"] if m["role"] != "system"]


@pytest.mark.parametrize("vendor", ["anthropic", "openai"])
async def test_invalid_json_gets_one_repair_then_a_retryable_failure(vendor: str) -> None:
    async with wired(vendor) as w:
        w.fake.replies.append('{"summary": "cut off')
        notes = await w.provider.research(BRIEF)  # repaired by the second call
        assert {i.keyword for i in notes.keyword_insights} == set(BRIEF.keywords)
        repair = w.fake.requests[1].body
        assert "not valid" in repair["messages"][-1]["content"]
        assert repair["messages"][-2] == {"role": "assistant", "content": '{"summary": "cut off'}

        w.fake.requests.clear()  # valid JSON that misses a keyword: repaired with what is missing
        good = json.loads(await scripted_model(*conversation_of(vendor, repair)))
        w.fake.replies.append(json.dumps({**good, "keyword_insights": good["keyword_insights"][:1]}))
        await w.provider.research(BRIEF)
        assert "no keyword insight for 'green waste'" in w.fake.requests[1].body["messages"][-1]["content"]

        w.fake.requests.clear()
        notes_json = await scripted_model(*conversation_of(vendor, repair))
        chatty = f"Here are the notes:\n{notes_json}\nHope this helps!"
        w.fake.replies.append(chatty)
        await w.provider.research(BRIEF)  # a sentence around the JSON is not worth a repair call
        assert len(w.fake.requests) == 1

        w.fake.requests.clear()
        w.fake.replies.extend(["not json", '{"summary": "still not notes"}'])
        with pytest.raises(TransientError) as raised:
            await w.provider.research(BRIEF)
        assert raised.value.code == "invalid_model_output" and len(w.fake.requests) == 2
        assert "keyword_insights" in str(raised.value)  # the validation error says what was missing


async def test_a_draft_off_its_length_gets_one_revision() -> None:
    async with wired("anthropic") as w:
        notes = await w.provider.research(BRIEF)
        outline = await w.provider.outline(BRIEF, notes)
        w.fake.replies.append("# Composting\n\n## Start\n\nA compost bin is short.")
        draft = await w.provider.draft(BRIEF, notes, outline)
        revision = w.fake.requests[-1].body["messages"][-1]["content"]
        assert "600 words" in revision and "green waste" in revision
        assert abs(draft.word_count - BRIEF.word_count) <= BRIEF.word_count * 0.1
        assert len(w.fake.calls("/v1/messages")) == 4


async def test_the_worker_builds_a_provider_only_after_the_endpoint_answers(monkeypatch: pytest.MonkeyPatch,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from agents.providers.model import ModelProvider
    from planperfect.processes import make_provider

    async with wired("anthropic") as w:
        settings, env = settings_for("anthropic", w.fake.base_url)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        provider = await asyncio.to_thread(make_provider, settings)  # the probe blocks its caller: not this loop
        assert isinstance(provider, ModelProvider)
        await provider.close()
        assert [r.path for r in w.fake.requests] == ["/v1/models"]
        w.fake.models = ("claude-opus-elsewhere",)
        with pytest.raises(SystemExit) as stopped:
            await asyncio.to_thread(make_provider, settings)
    assert stopped.value.code == 78
    assert "PLANPERFECT_MODEL_RESEARCH" in capsys.readouterr().err
