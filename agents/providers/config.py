"""Which model provider a worker runs, from settings and the vendors' own variables; what is wrong, in one line."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import anthropic
import openai

from agents.providers.anthropic_chat import AnthropicChat
from agents.providers.chat import Chat
from agents.providers.limiter import Limiter, Limits
from agents.providers.model import ModelProvider, StageModels
from agents.providers.openai_chat import OpenAIChat
from agents.providers.vendor_errors import classify, redact
from agents.sources.fetch import FetchLimits, SourceFetcher
from agents.sources.guard import SourcePolicy
from planperfect.settings import Settings

log = logging.getLogger("planperfect.providers")


@dataclass(frozen=True)
class Vendor:
    name: str
    sdk: str  # "anthropic" or "openai"
    key_env: str | None  # the vendor's usual variable
    base_url_env: str | None  # the SDK's own variable
    default_base_url: str | None
    cheap_model: str | None
    strong_model: str | None
    key_required: bool = True


VENDORS: Mapping[str, Vendor] = {
    "anthropic": Vendor("anthropic", "anthropic", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", None,
                        "claude-haiku-4-5", "claude-sonnet-4-5"),
    "openai": Vendor("openai", "openai", "OPENAI_API_KEY", "OPENAI_BASE_URL", None, "gpt-4.1-mini", "gpt-4.1"),
    "groq": Vendor("groq", "openai", "GROQ_API_KEY", None, "https://api.groq.com/openai/v1",
                   "llama-3.1-8b-instant", "llama-3.3-70b-versatile"),
    # Ollama, vLLM, LM Studio...: no default URL or model, and usually no key.
    "openai-compatible": Vendor("openai-compatible", "openai", None, None, None, None, None, key_required=False),
}
OFFLINE = "offline"
SIMULATED = "simulated"  # load tests: waits like a model call, writes nothing real (agents/providers/simulated.py)
LOCAL_KEY = "not-needed"  # the openai SDK insists on some key; local servers ignore it
PROBE_SECONDS = 10.0  # longest wait for a vendor's model list (the model timeout, 120 s, is for long answers)


@dataclass(frozen=True)
class ProviderConfig:
    vendor: Vendor
    api_key: str
    base_url: str | None
    models: StageModels
    limits: Limits
    timeout_seconds: float
    source_policy: SourcePolicy
    fetch_limits: FetchLimits
    allowed_pair: str | None = None  # "provider:model" when PLANPERFECT_PROVIDER_ALLOW, not the stage models, named it


class ConfigProblem(Exception):
    """A provider setting that keeps the worker from starting; the message names the setting that fixes it."""


def resolve(settings: Settings, env: Mapping[str, str]) -> ProviderConfig | None:
    """The provider configuration (None: offline), or ConfigProblem. Pure: the environment is passed in."""
    if settings.provider in (OFFLINE, SIMULATED):
        return None
    vendor = VENDORS.get(settings.provider)
    if vendor is None:
        raise ConfigProblem(f"PLANPERFECT_PROVIDER={settings.provider!r} is not one of "
                            f"{', '.join([OFFLINE, SIMULATED, *VENDORS])}")
    key = settings.provider_api_key.get_secret_value() if settings.provider_api_key else None
    key = key or (env.get(vendor.key_env) if vendor.key_env else None)
    if not key and vendor.key_required:
        raise ConfigProblem(f"PLANPERFECT_PROVIDER={vendor.name} needs an API key: set {vendor.key_env} "
                            "(or PLANPERFECT_PROVIDER_API_KEY)")
    base_url = settings.provider_base_url or (env.get(vendor.base_url_env) if vendor.base_url_env else None)
    base_url = base_url or vendor.default_base_url
    if vendor.sdk == "openai" and vendor.name != "openai" and not base_url:
        raise ConfigProblem(f"PLANPERFECT_PROVIDER={vendor.name} needs the server's URL: set "
                            "PLANPERFECT_PROVIDER_BASE_URL (e.g. http://localhost:11434/v1 for Ollama)")
    models = _models(settings, vendor)
    return ProviderConfig(
        vendor=vendor, api_key=key or LOCAL_KEY, base_url=base_url, models=models,
        limits=Limits(concurrency=settings.provider_concurrency, requests=settings.provider_rpm,
                      tokens=settings.provider_tpm),
        timeout_seconds=settings.provider_timeout_seconds,
        source_policy=SourcePolicy.allowing(settings.source_allowed_hosts.split(",")),
        fetch_limits=FetchLimits(max_bytes=settings.source_max_bytes, timeout_seconds=settings.source_timeout_seconds),
    )


def resolve_choice(settings: Settings, env: Mapping[str, str], provider: str, model: str) -> ProviderConfig | None:
    """The configuration of a (provider, model) pair a job picked: that one model for every stage, and the vendor's
    own key and URL variables (PLANPERFECT_PROVIDER_API_KEY and _BASE_URL belong to the configured provider and
    go only with it). None: offline."""
    own = provider == settings.provider
    per_stage = {name: None for name in Settings.model_fields if name.startswith("model_")}
    chosen = settings.model_copy(update={
        "provider": provider, "model": model, **per_stage,
        **({} if own else {"provider_base_url": None, "provider_api_key": None})})
    try:
        config = resolve(chosen, env)
    except ConfigProblem as problem:
        raise ConfigProblem(f"PLANPERFECT_PROVIDER_ALLOW allows {provider}:{model}, but {problem}") from None
    return None if config is None else replace(config, allowed_pair=f"{provider}:{model}")


def resolve_all(settings: Settings, env: Mapping[str, str]) -> list[ProviderConfig]:
    """Every model configuration a worker may call: the configured provider's, then each allowed pair's (offline
    ones have none), or the first ConfigProblem."""
    configs = [resolve(settings, env)]
    configs += [resolve_choice(settings, env, provider, model) for provider, model in settings.provider_choices()]
    return [config for config in configs if config is not None]


def check(settings: Settings, env: Mapping[str, str]) -> str | None:
    """The one-line problem with the provider settings (the allowed pairs' included), or None when a worker can
    start with them (offline always can). Pure: `probe_all` then asks the endpoints themselves."""
    try:
        resolve_all(settings, env)
    except ConfigProblem as problem:
        return str(problem)
    return None


def _models(settings: Settings, vendor: Vendor) -> StageModels:
    cheap = settings.model or vendor.cheap_model
    strong = settings.model or vendor.strong_model
    chosen = {"research": settings.model_research or cheap, "outline": settings.model_outline or strong,
              "draft": settings.model_draft or strong, "markup": settings.model_markup or cheap,
              "qa": settings.model_qa or cheap, "analyze": settings.model_analyze or cheap,
              "write": settings.model_write or strong}
    unset = [stage for stage, model in chosen.items() if not model]
    if unset:
        raise ConfigProblem(f"PLANPERFECT_PROVIDER={vendor.name} has no default model: set PLANPERFECT_MODEL "
                            f"(or PLANPERFECT_MODEL_{unset[0].upper()})")
    return StageModels(**chosen)  # type: ignore[arg-type]


def sdk_client(config: ProviderConfig) -> anthropic.AsyncAnthropic | openai.AsyncOpenAI:
    """The vendor's SDK client. Its own retries are off: the stage's retry (with the vendor's retry-after as its
    floor) is the one place a failed call is tried again, and every attempt shows in the job's events."""
    if config.vendor.sdk == "anthropic":
        return anthropic.AsyncAnthropic(api_key=config.api_key, base_url=config.base_url,
                                        timeout=config.timeout_seconds, max_retries=0)
    return openai.AsyncOpenAI(api_key=config.api_key, base_url=config.base_url, timeout=config.timeout_seconds,
                              max_retries=0)


def make_chat(config: ProviderConfig) -> Chat:
    client = sdk_client(config)
    if isinstance(client, anthropic.AsyncAnthropic):
        return AnthropicChat(client)
    return OpenAIChat(client, vendor=config.vendor.name)


def build(config: ProviderConfig, limiter: Limiter | None = None) -> ModelProvider:
    """One provider per worker: its limiter is shared by every stage the worker runs."""
    return ModelProvider(make_chat(config), config.models, limiter=limiter or Limiter(config.limits),
                         secrets=(config.api_key,),
                         sources=SourceFetcher(config.source_policy, config.fetch_limits))


# Answers that say the vendor is up but busy (rate limited, overloaded, a server error). At start they are no reason
# to refuse: exit 78 stops `planperfect run` for good, and the stages' retries ride a blip out.
BUSY = frozenset({"vendor_rate_limited", "vendor_overloaded", "vendor_server_error", "vendor_conflict"})


async def probe(config: ProviderConfig) -> str | None:
    """Ask the endpoint for its models, with a client of its own: None when it answers and offers every
    configured model (or is only busy), else the one-line problem and the setting that fixes it."""
    # an endpoint that accepts and never answers must not hold a worker's start for the model timeout
    client = sdk_client(replace(config, timeout_seconds=min(config.timeout_seconds, PROBE_SECONDS)))
    where = config.base_url or f"the {config.vendor.name} API"
    try:
        offered = {m.id async for m in client.models.list()}
    except Exception as exc:
        error = classify(config.vendor.name, exc, (config.api_key,))
        if error is None:
            raise
        if error.code in BUSY:  # the vendor is there and answering: a blip, not a setting to fix
            log.warning("%s at %s is busy at start (%s): starting anyway; stages retry while it lasts",
                        config.vendor.name, where, redact(str(error), (config.api_key,)))
            return None
        fix = _fix_for(error.code, config)
        return redact(f"{config.vendor.name} at {where}: {error} -> {fix}", (config.api_key,))
    finally:
        await client.close()
    for stage, model in vars(config.models).items():
        if model not in offered:
            # a pick's model comes from the allow-list: the stage settings would not change it
            setting = (f"{config.allowed_pair} in PLANPERFECT_PROVIDER_ALLOW" if config.allowed_pair
                       else f"PLANPERFECT_MODEL_{stage.upper()} (or PLANPERFECT_MODEL)")
            return (f"{config.vendor.name} at {where} does not offer model {model!r} -> set {setting} to one of "
                    f"{', '.join(sorted(offered)[:8]) or 'its models'}")
    return None


async def probe_all(configs: Sequence[ProviderConfig]) -> str | None:
    """`probe` each configuration at once: the first problem, or None when every endpoint offers its models."""
    problems = await asyncio.gather(*(probe(config) for config in configs))
    return next((problem for problem in problems if problem), None)


def _fix_for(code: str, config: ProviderConfig) -> str:
    if code in ("vendor_unauthorized", "vendor_forbidden"):
        return f"check {config.vendor.key_env or 'PLANPERFECT_PROVIDER_API_KEY'}"
    url_setting = " or ".join(filter(None, ["PLANPERFECT_PROVIDER_BASE_URL", config.vendor.base_url_env]))
    return f"check {url_setting} and that the server is up"
