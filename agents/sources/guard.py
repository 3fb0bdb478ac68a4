"""The SSRF guard: which URLs and addresses a source fetch may reach (public ones, and allow-listed hosts)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

SCHEMES = frozenset({"http", "https"})


class SourceRefused(Exception):
    """A URL the guard will not let a fetch reach; the message says why (and never holds credentials)."""


@dataclass(frozen=True)
class SourcePolicy:
    """`allowed_hosts`: names (e.g. an intranet wiki) that may resolve to private addresses. Exact matches only."""

    allowed_hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def allowing(cls, hosts: Iterable[str]) -> "SourcePolicy":
        return cls(frozenset(h.strip().lower().rstrip(".") for h in hosts if h.strip()))

    def host_allowed(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.allowed_hosts


def address_allowed(address: str) -> bool:
    """Only globally routable unicast addresses: no loopback, private, link-local (cloud metadata at
    169.254.169.254), carrier-grade NAT, multicast, reserved or unspecified ones, IPv4-mapped IPv6 included."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: URL, policy: SourcePolicy) -> None:
    """Refuse what is wrong before any DNS look-up: scheme, credentials, a literal IP that is not public."""
    if url.scheme not in SCHEMES:
        raise SourceRefused(f"only http and https sources are read, not {url.scheme or 'a relative URL'!r}")
    if url.user is not None or url.password is not None:
        raise SourceRefused("a source URL may not carry credentials")
    host = url.raw_host
    if not host:
        raise SourceRefused("the source URL has no host")
    if policy.host_allowed(host):
        return
    try:
        literal = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return  # a name: the resolver checks what it resolves to
    if not address_allowed(str(literal)):
        raise SourceRefused(f"{host} is not a public address")


class GuardedResolver(AbstractResolver):
    """Resolves, then refuses a name any of whose addresses is not public: the connection goes to exactly the
    addresses checked here, so a name cannot be re-pointed between the check and the connect."""

    def __init__(self, policy: SourcePolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner or DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not self._policy.host_allowed(host):
            refused = [r["host"] for r in results if not address_allowed(r["host"])]
            if refused:
                raise SourceRefused(f"{host} resolves to {refused[0]}, which is not a public address")
        return results

    async def close(self) -> None:
        await self._inner.close()
