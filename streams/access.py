"""How a client reaches the log: its bootstrap servers and, when the cluster asks for them, credentials.

A bootstrap is written `host:port[,host:port]` (PLAINTEXT), or as a URL that says how to authenticate,
the way a PostgreSQL URL carries its role and password:

    sasl_plaintext://USER:PASSWORD@host:port[,host:port][?mechanism=SCRAM-SHA-256]
    sasl_ssl://USER:PASSWORD@host:port[?mechanism=SCRAM-SHA-512&cafile=/path/ca.pem]
    ssl://host:port[?cafile=...]

The value travels wherever a bootstrap already goes (settings, a child's environment, a test's fixture),
so every client is built with `kafka_options(bootstrap)` and nothing else needs to know about credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, unquote

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN")
DEFAULT_MECHANISM = "SCRAM-SHA-256"


@dataclass(frozen=True)
class KafkaAccess:
    """A parsed bootstrap: where the brokers are and how to authenticate to them."""

    servers: tuple[str, ...]
    protocol: str = "PLAINTEXT"
    mechanism: str | None = None
    username: str | None = None
    password: str | None = None
    cafile: str | None = None

    @property
    def address(self) -> str:
        """The servers alone, as they may be printed: never the password."""
        return ",".join(self.servers)

    def url(self) -> str:
        """The bootstrap this access was parsed from (normalised); `parse_bootstrap(a.url()) == a`."""
        if self.protocol == "PLAINTEXT":
            return self.address
        userinfo = f"{quote(self.username or '', safe='')}:{quote(self.password or '', safe='')}@" if self.username else ""
        query = [f"mechanism={self.mechanism}"] if self.mechanism and self.mechanism != DEFAULT_MECHANISM else []
        query += [f"cafile={quote(self.cafile)}"] if self.cafile else []
        return f"{self.protocol.lower()}://{userinfo}{self.address}" + (f"?{'&'.join(query)}" if query else "")


def parse_bootstrap(bootstrap: str) -> KafkaAccess:
    """`host:port,...` or a `protocol://user:password@host:port,...?mechanism=...` URL; ValueError names what is wrong."""
    if "://" not in bootstrap:
        return KafkaAccess(servers=_servers(bootstrap))
    scheme, rest = bootstrap.split("://", 1)
    protocol = scheme.upper()
    if protocol not in PROTOCOLS:
        raise ValueError(f"Kafka bootstrap: unknown protocol {scheme!r} (one of {', '.join(p.lower() for p in PROTOCOLS)})")
    rest, _, query_text = rest.partition("?")
    userinfo, _, hosts = rest.rpartition("@")
    query = {key: values[-1] for key, values in parse_qs(query_text).items()}
    unknown = set(query) - {"mechanism", "cafile"}
    if unknown:
        raise ValueError(f"Kafka bootstrap: unknown option {sorted(unknown)[0]!r} (mechanism, cafile)")
    sasl = protocol.startswith("SASL_")
    username, _, password = userinfo.partition(":")
    if sasl and not username:
        raise ValueError(f"Kafka bootstrap: {scheme} needs a user and password (user:password@host:port)")
    if not sasl and userinfo:
        raise ValueError(f"Kafka bootstrap: {scheme} takes no user or password; use sasl_plaintext or sasl_ssl")
    mechanism = query.get("mechanism", DEFAULT_MECHANISM).upper() if sasl else None
    if mechanism is not None and mechanism not in MECHANISMS:
        raise ValueError(f"Kafka bootstrap: unknown SASL mechanism {mechanism!r} (one of {', '.join(MECHANISMS)})")
    return KafkaAccess(servers=_servers(hosts), protocol=protocol, mechanism=mechanism,
                       username=unquote(username) if sasl else None, password=unquote(password) if sasl else None,
                       cafile=query.get("cafile"))


def kafka_options(bootstrap: str) -> dict[str, Any]:
    """The keyword arguments every aiokafka client (producer, consumer, admin, client) is built with."""
    access = parse_bootstrap(bootstrap)
    options: dict[str, Any] = {"bootstrap_servers": list(access.servers), "security_protocol": access.protocol}
    if access.protocol.endswith("SSL"):
        from aiokafka.helpers import create_ssl_context  # only here: the CLI starts without aiokafka

        options["ssl_context"] = create_ssl_context(cafile=access.cafile)
    if access.mechanism is not None:
        options |= {"sasl_mechanism": access.mechanism, "sasl_plain_username": access.username,
                    "sasl_plain_password": access.password}
    return options


def kafka_address(bootstrap: str) -> str:
    """The bootstrap as it may be printed in a message or a log line: the servers, never the credentials."""
    try:
        return parse_bootstrap(bootstrap).address
    except ValueError:
        return "(an invalid bootstrap)"


def _servers(hosts: str) -> tuple[str, ...]:
    servers = tuple(item.strip() for item in hosts.split(",") if item.strip())
    if not servers:
        raise ValueError("Kafka bootstrap: no host:port given")
    return servers
