"""Request bodies accepted at the HTTP edge, validated strictly before anything reaches Kafka."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from api.storable import StorableRequest
from streams.payloads import PIPELINES, Brief, JobType, Stage


class IntakeRequest(StorableRequest):
    """POST /content-intake and POST /v1/jobs: the seed's request, plus delivery options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    job_type: JobType = Field(  # the document lists what _not_pacing lets through
        description="article or schema; pacing jobs are started by their schedule or POST /v1/pacing/trigger.",
        json_schema_extra={"enum": [t.value for t in JobType if t is not JobType.PACING]})
    requester_email: EmailStr | None = Field(None, description="Who asked for the content; optional, as in the seed.")
    payload: Brief
    initial_stage: Stage | None = Field(
        None, description="The pipeline's first stage (the default). A later stage is refused: a new job has "
                          "none of the earlier stages' outputs it would need.")
    priority: int = Field(5, ge=0, le=10, description="0 (lowest) to 10 (highest).")
    delay_seconds: int = Field(0, ge=0, le=7 * 24 * 3600, description="Start no earlier than this many seconds from now.")
    max_attempts: int | None = Field(None, ge=1, le=20, description="Attempts per stage before dead-lettering.")
    retry_delay_seconds: int | None = Field(None, ge=0, le=3600, description="Base of the exponential backoff.")
    visibility_seconds: int | None = Field(None, ge=1, le=24 * 3600, description="Time limit of one stage attempt.")
    token_budget: int | None = Field(
        None, ge=1, le=2**31 - 1, strict=True,
        description="Input + output tokens the job may use over all its stages and attempts; the stage whose model "
                    "call passes it fails permanently (dead letter). None: no limit.")

    @model_validator(mode="after")
    def _not_pacing(self) -> "IntakeRequest":
        if self.job_type is JobType.PACING:
            raise ValueError("job_type: pacing jobs are started by their schedule or POST /v1/pacing/trigger")
        return self

    @model_validator(mode="after")
    def _not_blank(self) -> "IntakeRequest":
        # The outline stage refuses a blank title and a keyword no section can cover, permanently: a job
        # whose title or a keyword is only whitespace could only dead-letter, so it is refused here.
        if not self.payload.title.strip():
            raise ValueError("payload.title: is only whitespace; a title needs words")
        for i, keyword in enumerate(self.payload.keywords):
            if not keyword.strip():
                raise ValueError(f"payload.keywords.{i}: is only whitespace; a keyword needs a word")
        return self

    @model_validator(mode="after")
    def _stage_in_pipeline(self) -> "IntakeRequest":
        if self.initial_stage is not None and self.initial_stage not in PIPELINES[self.job_type]:
            stages = ", ".join(s.value for s in PIPELINES[self.job_type])
            raise ValueError(f"initial_stage: '{self.initial_stage.value}' is not a stage of a {self.job_type.value} job ({stages})")
        return self

    @model_validator(mode="after")
    def _stage_can_run(self) -> "IntakeRequest":
        # Every stage after the first reads outputs of stages before it (agents/stages/prerequisites.py),
        # and a request cannot carry them: such a job would only ever dead-letter, so it is refused here.
        missing = self.skipped_stages()
        if missing:
            first = PIPELINES[self.job_type][0].value
            raise ValueError(
                f"initial_stage: a new {self.job_type.value} job starting at '{self.first_stage().value}' would lack "
                f"the outputs of {', '.join(s.value for s in missing)}, which the request cannot carry; "
                f"start at '{first}' (leave initial_stage out)")
        return self

    def skipped_stages(self) -> tuple[Stage, ...]:
        """The stages before the first one this job runs, whose outputs it would never have."""
        stages = PIPELINES[self.job_type]
        return stages[:stages.index(self.first_stage())]

    def first_stage(self) -> Stage:
        return self.initial_stage or PIPELINES[self.job_type][0]


def refused_choice(brief: Brief, allowed: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
    """Why a job may not pick its provider and model, as (field, reason), or None. A job picks both or neither,
    and only a pair the deployment allows (PLANPERFECT_PROVIDER_ALLOW): the worker holds a client, a key and
    a limit for each of those, and for nothing else."""
    if brief.provider is None and brief.model is None:
        return None
    pairs = ", ".join(f"{provider}:{model}" for provider, model in allowed)
    listed = f"allowed: {pairs}" if pairs else "this deployment allows none (PLANPERFECT_PROVIDER_ALLOW is empty)"
    if brief.provider is None:
        return "payload.provider", f"a job that picks a model names its provider too; {listed}"
    if brief.model is None:
        return "payload.model", f"a job that picks a provider names its model too; {listed}"
    if all(provider != brief.provider for provider, _ in allowed):
        return "payload.provider", f"'{brief.provider}' is not a provider jobs may pick; {listed}"
    if (brief.provider, brief.model) not in allowed:
        return "payload.model", f"'{brief.model}' is not a model jobs may pick with {brief.provider}; {listed}"
    return None


# A tenant names an organisation in keys, jobs, pacing rows and facts: a slug, so that `acme`, `acme ` and `ACME`
# cannot be three tenants and no name carries a separator (":"), a path or a terminal's escape sequence.
TENANT_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
TENANT_RULE = ("1 to 63 characters: lowercase letters a-z, digits, '.', '_' or '-', starting with a letter or digit "
               "(e.g. acme)")


class KeyCreate(StorableRequest):
    """POST /v1/keys and `planperfect keys create`: a new API key (admin only); the answer shows its secret once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200,
                      description="Who or what uses the key: `billing service`. 1 to 200 printable characters "
                                  "(no control characters, newlines or escape sequences); surrounding spaces are "
                                  "removed. It is shown in key lists and in the audit trail.")
    role: Literal["submitter", "reader", "operator", "admin"] = Field(
        description="submitter < reader < operator < admin; each may do what the ones before it may.")
    tenant: str | None = Field(
        None, json_schema_extra={"pattern": TENANT_PATTERN},
        description=f"The organisation the key is bound to (none: not bound): {TENANT_RULE}. An admin key cannot be bound.")

    @field_validator("name")
    @classmethod
    def _printable_name(cls, name: str) -> str:
        # Lists and `planperfect status` print the name to a terminal: a newline or an ESC sequence would break
        # the table, or recolour and clear the operator's screen.
        name = name.strip()
        if not name:
            raise ValueError("is only whitespace; name who or what uses the key")
        if len(name) > 200:
            raise ValueError("is longer than 200 characters")
        if (bad := next((ch for ch in name if not ch.isprintable()), None)) is not None:
            raise ValueError(f"holds a character that is not printable ({ascii(bad)}); use 1 to 200 printable "
                             "characters, without control characters, newlines or escape sequences")
        return name

    @field_validator("tenant")
    @classmethod
    def _tenant_slug(cls, tenant: str | None) -> str | None:
        if tenant is not None and not re.fullmatch(TENANT_PATTERN, tenant):
            raise ValueError(f"{tenant!r} is not a tenant name: {TENANT_RULE}")
        return tenant

    @model_validator(mode="after")
    def _admin_not_bound(self) -> "KeyCreate":
        # Every admin route is the whole deployment's and refuses a bound key (403 tenant_not_supported): such a
        # key could do nothing.
        if self.role == "admin" and self.tenant is not None:
            raise ValueError("tenant: an admin key cannot be bound to a tenant (every admin route is the whole "
                             "deployment's and refuses a bound key); leave the tenant out, or choose another role")
        return self


class SignIn(BaseModel):
    """POST /monitor/session: the key the monitor signs in with (kept in an HttpOnly cookie, never in the page)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(min_length=1, max_length=200, description="An API key, `pp_<id>_<secret>`.")
