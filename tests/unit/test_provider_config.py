"""Provider settings resolved without a network: the one-line problems, the models per stage, retry-after floors,
error rules, prices and prompts."""

from __future__ import annotations

import uuid

import pytest

from agents.errors import PermanentError, TransientError
from agents.providers.config import ConfigProblem, check, resolve
from agents.providers.prompts import VERSIONS, prompt
from agents.providers.usage import CallUsage, UsageLedger, default_prices, parse_prices, record_call, recording
from agents.providers.vendor_errors import classify_status, redact, retry_after_seconds, rule_for
from agents.retry import Retry, backoff_seconds, decide
from planperfect.settings import Settings

KEY = "sk-ant-api03-abcdefghijklmnop"


def problem(env: dict[str, str], **settings: object) -> str:
    with pytest.raises(ConfigProblem) as raised:
        resolve(Settings(**settings), env)  # type: ignore[arg-type]
    return str(raised.value)


def test_offline_needs_nothing() -> None:
    assert resolve(Settings(), {}) is None
    assert check(Settings(), {}) is None


def test_check_gives_the_problem_as_one_line() -> None:
    assert check(Settings(provider="anthropic"), {}) == (
        "PLANPERFECT_PROVIDER=anthropic needs an API key: set ANTHROPIC_API_KEY (or PLANPERFECT_PROVIDER_API_KEY)")
    assert check(Settings(provider="anthropic"), {"ANTHROPIC_API_KEY": KEY}) is None


@pytest.mark.parametrize("provider, setting", [("anthropic", "ANTHROPIC_API_KEY"), ("openai", "OPENAI_API_KEY"),
                                               ("groq", "GROQ_API_KEY")])
def test_a_missing_key_names_the_variable(provider: str, setting: str) -> None:
    message = problem({}, provider=provider)
    assert setting in message and "\n" not in message


def test_an_unknown_provider_lists_the_known_ones() -> None:
    assert "offline, simulated, anthropic, openai, groq, openai-compatible" in problem({}, provider="gemini")


def test_a_local_server_needs_its_url_and_a_model_but_no_key() -> None:
    assert "PLANPERFECT_PROVIDER_BASE_URL" in problem({}, provider="openai-compatible")
    assert "PLANPERFECT_MODEL" in problem({}, provider="openai-compatible",
                                          provider_base_url="http://localhost:11434/v1")
    config = resolve(Settings(provider="openai-compatible", provider_base_url="http://localhost:11434/v1",
                              model="llama3.2"), {})
    assert config is not None and config.models.draft == "llama3.2" and config.api_key == "not-needed"


def test_an_empty_rpm_or_tpm_is_no_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANPERFECT_PROVIDER_RPM", "")
    monkeypatch.setenv("PLANPERFECT_PROVIDER_TPM", " ")
    assert (Settings().provider_rpm, Settings().provider_tpm) == (None, None)


def test_cheap_and_strong_models_per_stage_and_overrides() -> None:
    config = resolve(Settings(provider="anthropic"), {"ANTHROPIC_API_KEY": KEY})
    assert config is not None and config.api_key == KEY and config.base_url is None
    assert (config.models.research, config.models.draft) == ("claude-haiku-4-5", "claude-sonnet-4-5")
    config = resolve(Settings(provider="openai", model_draft="gpt-x", provider_rpm=10),
                     {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": "http://proxy/v1"})
    assert config is not None and config.models.draft == "gpt-x" and config.models.research == "gpt-4.1-mini"
    assert config.base_url == "http://proxy/v1" and config.limits.requests == 10
    groq = resolve(Settings(provider="groq"), {"GROQ_API_KEY": KEY})
    assert groq is not None and groq.base_url == "https://api.groq.com/openai/v1"


def test_the_key_setting_is_never_shown() -> None:
    settings = Settings(provider="anthropic", provider_api_key=KEY)  # type: ignore[arg-type]
    assert KEY not in repr(settings) and KEY not in str(settings.model_dump())


def test_a_retry_waits_at_least_what_the_vendor_asked() -> None:
    job = uuid.UUID(int=1)
    assert decide(TransientError("x", retry_after=30), 1, 3, 1, job) == Retry(2, 30.0)
    assert decide(TransientError("x", retry_after=0.1), 2, 3, 5, job) == Retry(3, backoff_seconds(5, 2, job))
    assert decide(TransientError("x"), 1, 3, 5, job) == Retry(2, backoff_seconds(5, 1, job))
    assert decide(TransientError("x", retry_after=10**6), 1, 3, 1, job) == Retry(2, 3600.0)


def test_retry_after_headers() -> None:
    assert retry_after_seconds({"Retry-After": "12"}) == 12.0
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None
    from datetime import datetime, timezone
    now = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after_seconds({"retry-after": "Tue, 01 Dec 2026 12:00:20 GMT"}, now) == 20.0


@pytest.mark.parametrize("status, retried", [(400, False), (401, False), (403, False), (404, False), (408, True),
                                             (409, True), (418, False), (429, True), (500, True), (502, True),
                                             (503, True), (504, True), (529, True)])
def test_the_status_table(status: int, retried: bool) -> None:
    assert rule_for(status).retryable is retried
    error = classify_status("anthropic", status, f"vendor text {KEY}", {"retry-after": "3"}, secrets=[KEY])
    assert isinstance(error, TransientError if retried else PermanentError)
    assert KEY not in str(error) and "vendor text" in str(error)
    if retried:
        assert error.retry_after == 3.0  # type: ignore[attr-defined]


def test_redaction_catches_the_key_and_key_shaped_echoes() -> None:
    assert redact(f"bad key {KEY}", [KEY]) == "bad key [redacted]"
    assert "0042" not in redact("Incorrect API key provided: sk-te*****0042.", [])
    assert redact("gsk_abcdefgh12345 rejected", []) == "[redacted] rejected"


def test_prices_and_ledger() -> None:
    table = parse_prices("[default]\ninput = 1\noutput = 2\ncached_input = 0.5\n"
                         "[models.m]\ninput = 10\noutput = 20\ncached_input = 1\n")
    assert table.cost("m", input_tokens=1_000_000, output_tokens=500_000, cached_tokens=0) == 20.0
    assert table.cost("m", input_tokens=1_000_000, output_tokens=0, cached_tokens=1_000_000) == 1.0
    assert table.cost("unknown", 1_000_000, 1_000_000, 0) == 3.0
    assert default_prices().price("claude-sonnet-4-5").output > default_prices().price("claude-haiku-4-5").output
    ledger = UsageLedger()
    call = CallUsage(provider="p", model="m", prompt="draft.v1", input_tokens=10, output_tokens=5,
                     cached_tokens=2, cost_usd=0.25)
    record_call(call)  # outside an attempt: nowhere
    with recording(ledger):
        record_call(call)
        record_call(call.model_copy(update={"prompt": "revise.v1"}))
    record_call(call)
    totals = ledger.totals
    assert (totals.input_tokens, totals.output_tokens, totals.cached_tokens) == (20, 10, 4)
    assert totals.cost_usd == 0.5 and ledger.prompts == ["draft.v1", "revise.v1"]


@pytest.mark.parametrize("name", sorted(VERSIONS))
def test_every_prompt_loads_and_renders(name: str) -> None:
    template = prompt(name)
    assert template.label == f"{name}.v{VERSIONS[name]}"
    values = {k: "X" for k in ("schema", "brief", "sources", "research", "outline", "word_count", "problems",
                               "keywords", "schema_type", "error", "findings", "measures", "draft", "content_types",
                               "chunks", "content_type", "local_date", "suggestion")}
    system, user = template.render(**values)
    assert user and "$" not in user
