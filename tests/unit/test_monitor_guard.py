"""The cross-site guard: what a browser marks as another site's request is refused; other clients pass."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from api.errors import ApiError
from api.monitor.guard import cross_site, cross_site_guard


def req(method: str, **headers: str):
    return make_mocked_request(method, "/v1/jobs", headers={"Host": "monitor.example:8080", **headers})


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
    {"Origin": "https://evil.example"}, {"Origin": "null"}, {"Origin": "http://monitor.example:9999"},
])
def test_a_state_change_from_another_site_is_refused(headers):
    assert cross_site(req("POST", **headers))
    assert cross_site(req("DELETE", **headers))


@pytest.mark.parametrize("headers", [
    {}, {"Sec-Fetch-Site": "same-origin", "Origin": "http://monitor.example:8080"}, {"Sec-Fetch-Site": "none"},
    {"Origin": "http://monitor.example:8080"},
])
def test_same_origin_and_non_browser_clients_pass(headers):
    assert cross_site(req("POST", **headers)) is None
    assert cross_site(req("PATCH", **headers)) is None


def test_reads_are_never_refused():
    assert cross_site(req("GET", **{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})) is None


async def test_the_middleware_answers_403_with_the_reason():
    async def handler(request):
        raise AssertionError("must not be reached")

    with pytest.raises(ApiError) as refused:
        await cross_site_guard(req("POST", **{"Sec-Fetch-Site": "cross-site"}), handler)
    assert refused.value.status == 403 and "cross_site_request" in refused.value.text
