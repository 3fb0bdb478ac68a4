"""The local stack: a real Kafka broker and a private PostgreSQL cluster, run by the project itself."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from planperfect.stack.process import StackError

if TYPE_CHECKING:
    from planperfect.stack.local import LocalStack, ServiceStatus, StackInfo, StackStatus

__all__ = ["LocalStack", "ServiceStatus", "StackError", "StackInfo", "StackStatus"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: settings read the stack's credentials (planperfect.stack.secrets) in every command,
    # and the CLI starts without aiokafka and asyncpg, which the services' modules import.
    if name in ("LocalStack", "ServiceStatus", "StackInfo", "StackStatus"):
        from planperfect.stack import local

        return getattr(local, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
