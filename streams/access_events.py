"""The audit trail of operator actions: API keys created and revoked (keyed by key id), and the read model
rebuilt or verified from the command line (keyed `projections`), each naming who did it.

They never carry a key's secret nor its hash: only which key, its role and tenant, and who made the change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Union
from uuid import UUID

from pydantic import Field, TypeAdapter

from streams.envelope import Message

KeyRole = Literal["submitter", "reader", "operator", "admin"]


class AccessFact(Message):
    event_id: UUID
    key_id: str = Field(pattern=r"^[0-9a-f]{12}$")
    occurred_at: datetime
    actor: str = Field(description="Who made the change: `key:<id> (<name>)` through the API, `cli:<user>` from the "
                                   "command line, `bootstrap` for the first admin key.")


    @property
    def log_key(self) -> bytes:
        return self.key_id.encode()


class KeyCreated(AccessFact):
    type: Literal["KeyCreated"] = "KeyCreated"
    schema_version: Literal[1] = 1
    name: str
    role: KeyRole
    tenant: str | None = None


class KeyRevoked(AccessFact):
    type: Literal["KeyRevoked"] = "KeyRevoked"
    schema_version: Literal[1] = 1


class ProjectionFact(Message):
    """A `projections rebuild` or `verify` run, written when it ends, whatever its outcome."""

    # actor and outcome first: `planperfect tail access-events` shows the first fields of a line
    actor: str = Field(description="Who ran it: `cli:<user>`.")
    outcome: str = Field(description="The run's end, as projection_runs.state says it: swapped, equal, different, "
                                     "refused or failed.")
    projections: list[str]
    event_id: UUID
    occurred_at: datetime
    message: str = ""

    @property
    def log_key(self) -> bytes:
        return b"projections"  # one partition: the runs in the order they ended


class ProjectionRebuilt(ProjectionFact):
    type: Literal["ProjectionRebuilt"] = "ProjectionRebuilt"
    schema_version: Literal[1] = 1
    dry_run: bool = False


class ProjectionVerified(ProjectionFact):
    type: Literal["ProjectionVerified"] = "ProjectionVerified"
    schema_version: Literal[1] = 1


AccessEvent = Annotated[Union[KeyCreated, KeyRevoked, ProjectionRebuilt, ProjectionVerified],
                        Field(discriminator="type")]
ACCESS_ADAPTER: TypeAdapter[AccessEvent] = TypeAdapter(AccessEvent)
