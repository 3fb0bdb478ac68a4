"""The SSRF guard's address and URL rules, without a network."""

from __future__ import annotations

import pytest
from yarl import URL

from agents.sources.guard import SourcePolicy, SourceRefused, address_allowed, check_url

REFUSED_ADDRESSES = [
    "127.0.0.1", "127.8.9.10", "10.0.0.1", "10.255.255.255", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "fe80::1%eth0",
]
ALLOWED_ADDRESSES = ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:93.184.216.34"]


@pytest.mark.parametrize("address", REFUSED_ADDRESSES)
def test_private_and_special_addresses_are_refused(address: str) -> None:
    assert not address_allowed(address)


@pytest.mark.parametrize("address", ALLOWED_ADDRESSES)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_allowed(address)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://10.1.2.3:8080/x", "http://169.254.169.254/latest/meta-data/", "http://[::1]:80/",
    "http://[::ffff:127.0.0.1]/", "ftp://example.com/file", "file:///etc/passwd", "http://user:pw@example.com/",
    "http:///nohost",
])
def test_urls_refused_before_any_lookup(url: str) -> None:
    with pytest.raises(SourceRefused):
        check_url(URL(url), SourcePolicy())


def test_names_pass_to_the_resolver_and_allow_listed_hosts_pass_outright() -> None:
    check_url(URL("https://example.com/page"), SourcePolicy())
    check_url(URL("http://10.0.0.5/wiki"), SourcePolicy.allowing(["10.0.0.5"]))
    check_url(URL("http://wiki.corp./x"), SourcePolicy.allowing([" Wiki.Corp ", ""]))
