"""A job's own provider and model: the allow-list setting, the intake's refusal, and the worker's client per pair."""

from __future__ import annotations

import pytest

from agents.errors import PermanentError
from agents.stages import qa
from agents.providers.model import ModelProvider
from agents.providers.offline import OfflineProvider
from agents.providers.routing import JobProviders
from api.requests import refused_choice
from planperfect.settings import Settings
from streams.payloads import Brief

ALLOW = "anthropic:claude-haiku-4-5, openai:gpt-4o-mini,openai-compatible:llama3.2:3b"
ENV = {"ANTHROPIC_API_KEY": "sk-ant-test", "OPENAI_API_KEY": "sk-test"}


def brief(**pick: str) -> Brief:
    return Brief(title="Composting at Home", **pick)


def test_the_allow_list_reads_pairs_and_refuses_a_malformed_one() -> None:
    assert Settings(provider_allow=ALLOW).provider_choices() == (
        ("anthropic", "claude-haiku-4-5"), ("openai", "gpt-4o-mini"), ("openai-compatible", "llama3.2:3b"))
    assert Settings().provider_choices() == ()
    with pytest.raises(ValueError):
        Settings(provider_allow="anthropic")  # no model: `planperfect` says "bad setting" and exits 2


def test_the_intake_names_the_field_and_the_allowed_pairs() -> None:
    allowed = Settings(provider_allow=ALLOW).provider_choices()
    assert refused_choice(brief(), allowed) is None
    assert refused_choice(brief(provider="openai", model="gpt-4o-mini"), allowed) is None
    field, reason = refused_choice(brief(provider="openai", model="gpt-4.1"), allowed)
    assert field == "payload.model" and reason.endswith(
        "allowed: anthropic:claude-haiku-4-5, openai:gpt-4o-mini, openai-compatible:llama3.2:3b")
    assert refused_choice(brief(provider="groq", model="gpt-4o-mini"), allowed)[0] == "payload.provider"
    assert refused_choice(brief(model="gpt-4o-mini"), allowed)[0] == "payload.provider"
    assert refused_choice(brief(provider="openai"), allowed)[0] == "payload.model"
    assert "allows none" in refused_choice(brief(provider="openai", model="gpt-4o-mini"), ())[1]


async def test_the_worker_keeps_one_client_per_pair_and_one_limiter_per_vendor() -> None:
    settings = Settings(provider="anthropic", provider_allow="anthropic:claude-haiku-4-5,openai:gpt-4o-mini,"
                                                             "openai:gpt-4.1-mini,offline:offline")
    from agents.providers import config as provider_config

    default = provider_config.build(provider_config.resolve(settings, ENV))
    providers = JobProviders(default, settings, ENV)
    try:
        assert providers.for_brief(brief()) is default
        mini = providers.for_brief(brief(provider="openai", model="gpt-4o-mini"))
        assert isinstance(mini, ModelProvider) and mini.name == "openai"
        assert set(vars(mini.models).values()) == {"gpt-4o-mini"}  # every stage asks the job's model
        assert providers.for_brief(brief(provider="openai", model="gpt-4o-mini")) is mini  # built once
        other = providers.for_brief(brief(provider="openai", model="gpt-4.1-mini"))
        assert other is not mini and other.limiter is mini.limiter  # the vendor's limits are shared
        haiku = providers.for_brief(brief(provider="anthropic", model="claude-haiku-4-5"))
        assert haiku.limiter is default.limiter
        assert isinstance(providers.for_brief(brief(provider="offline", model="offline")), OfflineProvider)
        with pytest.raises(PermanentError) as refused:  # allowed at intake, no longer by this worker
            providers.for_brief(brief(provider="groq", model="llama-3.1-8b-instant"))
        assert refused.value.code == "provider_not_allowed" and "openai:gpt-4o-mini" in str(refused.value)
    finally:
        await providers.close()


async def test_every_article_stage_of_a_picked_job_goes_to_its_provider() -> None:
    settings = Settings(provider="anthropic", provider_allow="offline:offline")
    from agents.providers import config as provider_config

    # The configured provider points nowhere: a call reaching it would fail, the picked offline writer does not.
    nowhere = {**ENV, "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}
    default = provider_config.build(provider_config.resolve(settings, nowhere))
    providers = JobProviders(default, settings, ENV)
    picked = brief(provider="offline", model="offline", keywords=["compost"])
    try:
        research = await providers.research(picked)
        outline = await providers.outline(picked, research)
        draft = await providers.draft(picked, research, outline)
        again = await providers.draft(picked, research, outline, previous=draft, findings=["too short"])
        assert draft.word_count > 0 and again.word_count > 0
        assert await providers.markup(picked, research) is not None
        report = qa.review(picked, outline, draft)  # the measured report the qa stage hands the provider
        assert await providers.review(picked, outline, draft, report) is None  # offline gives no verdict of its own
    finally:
        await providers.close()
