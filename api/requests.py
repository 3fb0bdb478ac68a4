"""Request bodies accepted at the HTTP edge, validated strictly before anything reaches Kafka."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from streams.payloads import PIPELINES, Brief, JobType, Stage


class IntakeRequest(BaseModel):
    """POST /content-intake and POST /v1/jobs: the seed's request, plus delivery options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    job_type: JobType
    requester_email: EmailStr
    payload: Brief
    initial_stage: Stage | None = Field(None, description="Start here instead of the pipeline's first stage.")
    priority: int = Field(5, ge=0, le=10, description="0 (lowest) to 10 (highest).")
    delay_seconds: int = Field(0, ge=0, le=7 * 24 * 3600, description="Start no earlier than this many seconds from now.")
    max_attempts: int | None = Field(None, ge=1, le=20, description="Attempts per stage before dead-lettering.")
    retry_delay_seconds: int | None = Field(None, ge=0, le=3600, description="Base of the exponential backoff.")
    visibility_seconds: int | None = Field(None, ge=1, le=24 * 3600, description="Time limit of one stage attempt.")

    @model_validator(mode="after")
    def _not_pacing(self) -> "IntakeRequest":
        if self.job_type is JobType.PACING:
            raise ValueError("job_type: pacing jobs are started by their schedule or POST /v1/pacing/trigger")
        return self

    @model_validator(mode="after")
    def _stage_in_pipeline(self) -> "IntakeRequest":
        if self.initial_stage is not None and self.initial_stage not in PIPELINES[self.job_type]:
            stages = ", ".join(s.value for s in PIPELINES[self.job_type])
            raise ValueError(f"initial_stage: '{self.initial_stage.value}' is not a stage of a {self.job_type.value} job ({stages})")
        return self

    def first_stage(self) -> Stage:
        return self.initial_stage or PIPELINES[self.job_type][0]
