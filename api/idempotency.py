"""Idempotency-Keys at the edge: the fingerprint of a request, and the answer to a key sent again with another body."""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel

from api.errors import ApiError

HEADER = "Idempotency-Key"


def fingerprint(request: BaseModel) -> str:
    """SHA-256 of the validated request as canonical JSON (keys sorted, no spaces): two bodies that validate to the
    same request, whatever their key order, spacing or spelled-out defaults, have one fingerprint."""
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def same_request(first: str | None, now: str) -> None:
    """Refuse (422 `idempotency_key_reused`) a request whose Idempotency-Key first came with another body, whose
    fingerprint was `first`: answering it with the first write would tell the client its new request was accepted
    while nothing of it was written (the IETF idempotency-key draft's 422). A first write from before fingerprints
    were kept (`first` None) is taken as the same request, as it was answered before."""
    if first is not None and first != now:
        raise ApiError(422, "idempotency_key_reused",
                       f"{HEADER}: this key was already used with another body; a retry sends the same body, and a "
                       "new request needs a new key", field=HEADER)
