"""The local stack's generated credentials: made once per data dir, kept in a file only its owner can read."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from planperfect.stack.process import StackError
from streams.access import DEFAULT_MECHANISM, KafkaAccess

FILE_NAME = "secrets.json"

# The roles and principals the local stack creates. The application's own are never superusers.
POSTGRES_SUPERUSER = "postgres"
POSTGRES_APP_ROLE = "planperfect_app"
KAFKA_ADMIN = "admin"
KAFKA_APP = "planperfect"


@dataclass(frozen=True)
class StackSecrets:
    postgres_superuser_password: str
    postgres_app_password: str
    kafka_admin_password: str
    kafka_app_password: str

    @classmethod
    def generate(cls) -> StackSecrets:
        return cls(**{name: secrets.token_urlsafe(24) for name in cls.__dataclass_fields__})

    def database_url(self, address: str, database: str, *, superuser: bool = False) -> str:
        """The application role's URL of `database`; the superuser's (for creating databases) if asked."""
        user, password = ((POSTGRES_SUPERUSER, self.postgres_superuser_password) if superuser
                          else (POSTGRES_APP_ROLE, self.postgres_app_password))
        return f"postgresql://{user}:{password}@{address}/{database}"

    def kafka_bootstrap(self, address: str, *, admin: bool = False) -> str:
        """The application principal's bootstrap (see streams/access.py); the super user's if asked."""
        user, password = (KAFKA_ADMIN, self.kafka_admin_password) if admin else (KAFKA_APP, self.kafka_app_password)
        return KafkaAccess(servers=(address,), protocol="SASL_PLAINTEXT", mechanism=DEFAULT_MECHANISM,
                           username=user, password=password).url()


def secrets_path(data_dir: Path) -> Path:
    return data_dir.resolve() / FILE_NAME


def read_secrets(data_dir: Path) -> StackSecrets | None:
    """The data dir's credentials, or None before the stack's first start."""
    path = secrets_path(data_dir)
    try:
        return StackSecrets(**json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as exc:
        raise StackError(f"stack: {path} is not a credentials file this version wrote ({exc}); "
                         "remove the data dir to start afresh") from None


def ensure_secrets(data_dir: Path) -> StackSecrets:
    """The data dir's credentials, generated and written (mode 0600, created exclusively) on first use."""
    if (existing := read_secrets(data_dir)) is not None:
        return existing
    path = secrets_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    made = StackSecrets.generate()
    write_private(path, json.dumps(asdict(made), indent=2) + "\n", exclusive=True)
    return made


def write_private(path: Path, text: str, *, exclusive: bool = False) -> None:
    """Write `text` to a file only its owner can read or write, created with that mode (never readable in between)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode on O_TRUNC
    with os.fdopen(fd, "w") as out:
        out.write(text)
