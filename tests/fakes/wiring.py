"""A fake vendor and the real provider pointed at it, the way a worker builds one from settings."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator

from agents.providers import config as provider_config
from agents.providers.limiter import Limiter
from agents.providers.model import ModelProvider
from planperfect.settings import Settings
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.scripted_model import scripted_model
from tests.fakes.vendor import FakeVendor

# A key shaped like the vendors' own, so a leak would also be caught by pattern, not just by value.
SECRET = "sk-test-Zx81qPlanPerfectSecretKey0042"
VENDORS = ("anthropic", "openai", "groq", "openai-compatible")
KEY_ENV = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY", "groq": "GROQ_API_KEY"}


@dataclass
class Wired:
    vendor: str
    fake: FakeVendor
    provider: ModelProvider
    config: provider_config.ProviderConfig
    key: str


def settings_for(vendor: str, base_url: str, **overrides: Any) -> tuple[Settings, dict[str, str]]:
    """Settings and environment as an operator would write them; the key only ever in the vendor's variable."""
    env: dict[str, str] = {}
    values: dict[str, Any] = {"provider": vendor}
    if vendor == "anthropic":
        env["ANTHROPIC_BASE_URL"] = base_url
    elif vendor == "openai":
        env["OPENAI_BASE_URL"] = f"{base_url}/v1"
    else:
        values["provider_base_url"] = f"{base_url}/v1"
    if vendor == "openai-compatible":
        values["model"] = "llama-local"
    else:
        env[KEY_ENV[vendor]] = SECRET
    values.update(overrides)
    return Settings(**values), env


def fake_for(vendor: str, key: str, models: tuple[str, ...]) -> FakeVendor:
    cls = FakeAnthropic if vendor == "anthropic" else FakeOpenAI
    return cls(api_key=key, model=scripted_model, models=models)


@asynccontextmanager
async def wired(vendor: str, *, key: str | None = None, limiter: Limiter | None = None,
                **overrides: Any) -> AsyncIterator[Wired]:
    """The fake knows the configured models; `key` (default: what the provider sends) is what it accepts."""
    probe_settings, env = settings_for(vendor, "http://127.0.0.1:1", **overrides)
    draft = provider_config.resolve(probe_settings, env)
    assert draft is not None
    sent = draft.api_key
    fake = fake_for(vendor, key or sent, tuple(sorted(set(vars(draft.models).values()))))
    base_url = await fake.start()
    settings, env = settings_for(vendor, base_url, **overrides)
    config = provider_config.resolve(settings, env)
    assert config is not None
    provider = provider_config.build(config, limiter)
    try:
        yield Wired(vendor, fake, provider, config, sent)
    finally:
        await provider.close()
        await fake.stop()
