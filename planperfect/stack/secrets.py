"""The local stack's generated credentials: made once per data dir, kept in a file only its owner can read."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from planperfect.stack.process import StackError
from streams.access import DEFAULT_MECHANISM, KafkaAccess

FILE_NAME = "secrets.json"
# Where the services keep the data these credentials open (postgres.py, kafka.py): with any of it present, a missing
# file is a lost one, never a first start.
SERVICE_DATA = ("postgres/data/PG_VERSION", "kafka/data/meta.properties", "kafka-cluster/node-*/data/meta.properties")
# What is lost with the data dir: the read model can be rebuilt from the log, these cannot.
IRREPLACEABLE = "the API keys, the guard and the log itself"

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
    """The data dir's credentials, or None before the stack's first start.

    A file that others may read is set back to 0600, saying so on stderr; a missing one beside the services' data,
    or a corrupt one, is an error saying to restore it from a backup (the data cannot be opened without it)."""
    path = secrets_path(data_dir)
    try:
        with path.open() as file:
            _keep_private(path, os.fstat(file.fileno()))
            text = file.read()
    except FileNotFoundError:
        if found := [str(hit) for pattern in SERVICE_DATA for hit in sorted(data_dir.resolve().glob(pattern))]:
            raise StackError(
                f"stack: {path} is missing, and the stack's data ({', '.join(found)}) cannot be opened without it: "
                f"restore secrets.json from a backup. Removing {data_dir.resolve()} instead starts afresh and loses "
                f"{IRREPLACEABLE} (only a data dir made before the local stack required credentials never had the "
                "file; remove that one)") from None
        return None
    try:
        return StackSecrets(**json.loads(text))
    except (ValueError, TypeError) as exc:
        raise StackError(f"stack: {path} is corrupt ({exc}): restore secrets.json from a backup. Removing the data "
                         f"dir instead starts afresh and loses {IRREPLACEABLE}") from None


def _keep_private(path: Path, status: os.stat_result) -> None:
    mode = stat.S_IMODE(status.st_mode)
    if not mode & 0o077:
        return
    try:
        os.chmod(path, 0o600)
    except PermissionError:
        raise StackError(f"stack: {path} holds the stack's passwords and others may read it (mode {mode:04o}); "
                         f"its owner must `chmod 600 {path}`") from None
    print(f"stack: {path} was readable by others (mode {mode:04o}); set it back to 0600. Whoever read it meanwhile "
          "has the stack's passwords", file=sys.stderr)


def ensure_secrets(data_dir: Path) -> StackSecrets:
    """The data dir's credentials, generated and written (mode 0600, created exclusively) on first use."""
    if (existing := read_secrets(data_dir)) is not None:
        return existing
    path = secrets_path(data_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
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


def private_dir(directory: Path, group: str | None = None) -> None:
    """Only its owner may list or enter `directory`; with `group`, that group may pass through it (never list it)."""
    if group is None:
        directory.chmod(0o700)
    else:
        shutil.chown(directory, group=group)
        directory.chmod(0o710)
