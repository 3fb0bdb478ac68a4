"""Facts about API keys (created, revoked), keyed by key id: the audit trail of who may call the API.

They never carry the key's secret nor its hash: only which key, its role and tenant, and who made the change.
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


class KeyCreated(AccessFact):
    type: Literal["KeyCreated"] = "KeyCreated"
    schema_version: Literal[1] = 1
    name: str
    role: KeyRole
    tenant: str | None = None


class KeyRevoked(AccessFact):
    type: Literal["KeyRevoked"] = "KeyRevoked"
    schema_version: Literal[1] = 1


AccessEvent = Annotated[Union[KeyCreated, KeyRevoked], Field(discriminator="type")]
ACCESS_ADAPTER: TypeAdapter[AccessEvent] = TypeAdapter(AccessEvent)
