"""The local stack: a real Kafka broker and a private PostgreSQL cluster, run by the project itself."""

from planperfect.stack.local import LocalStack, ServiceStatus, StackInfo, StackStatus
from planperfect.stack.process import StackError

__all__ = ["LocalStack", "ServiceStatus", "StackError", "StackInfo", "StackStatus"]
