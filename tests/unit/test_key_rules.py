"""What a key may be called and bound to, one rule for POST /v1/keys and `planperfect keys create`; and who the
command line says it is in the audit trail."""

from __future__ import annotations

import json
import os
import pwd
from argparse import Namespace

import pytest
from pydantic import ValidationError

from api.errors import validation_error
from api.requests import KeyCreate
from planperfect.api_key import cli_actor
from planperfect.cli_keys import create_request, shown


def _refused(**body) -> tuple[str, str]:
    """(field, reason) of the API's 422 for this body."""
    with pytest.raises(ValidationError) as caught:
        KeyCreate.model_validate({"role": "reader", **body}, strict=True)
    error = json.loads(validation_error(caught.value).text)["error"]
    return error["field"], error["message"]


@pytest.mark.parametrize("name", ["line1\nline2", "red \x1b[31mRED", "\x1b[2J", "tab\there", "bell\x07",
                                  "   ", "\u2028", "x" * 201])
def test_a_name_is_1_to_200_printable_characters(name):
    field, message = _refused(name=name)
    assert field == "name", message


def test_a_name_is_stripped_and_may_be_any_printable_text():
    assert KeyCreate.model_validate({"name": "  billing site  ", "role": "reader"}).name == "billing site"
    name = "Bücher-Shop (prod) #2"
    assert KeyCreate.model_validate({"name": name, "role": "reader"}).name == name


@pytest.mark.parametrize("tenant", ["ACME", "acme ", " acme", "   ", "", "ac me", "a:b", "ac/../me", "-acme",
                                    "acme\n", "a" * 64, "accent-é"])
def test_a_tenant_is_a_lowercase_slug(tenant):
    field, message = _refused(name="n", tenant=tenant)
    assert field == "tenant" and "lowercase" in message, message


@pytest.mark.parametrize("tenant", ["acme", "a", "acme-eu.west_2", "0day", "a" * 63])
def test_slugs_are_tenants(tenant):
    assert KeyCreate.model_validate({"name": "n", "role": "submitter", "tenant": tenant}).tenant == tenant


def test_an_admin_key_cannot_be_bound_to_a_tenant():
    field, message = _refused(name="n", role="admin", tenant="acme")
    assert field == "tenant" and "admin" in message, message
    assert KeyCreate.model_validate({"name": "n", "role": "operator", "tenant": "acme"}).tenant == "acme"


def test_the_cli_refuses_what_the_api_refuses_naming_its_option():
    def args(**kw) -> Namespace:
        return Namespace(**({"name": "n", "role": "reader", "tenant": None} | kw))

    body, refused = create_request(args(name="  ok  ", tenant="acme"))
    assert refused is None and (body.name, body.tenant) == ("ok", "acme")
    assert create_request(args(name="a\x1b[2Jb"))[1].startswith("--name holds a character that is not printable")
    assert create_request(args(tenant="ACME"))[1].startswith("--tenant 'ACME' is not a tenant name")
    assert "lowercase" in create_request(args(tenant="   "))[1]
    assert create_request(args(role="admin", tenant="acme"))[1].startswith("--tenant an admin key cannot be bound")


def test_keys_list_escapes_what_older_keys_may_hold():
    assert shown("line1\nline2\x1b[31mRED") == "line1\\nline2\\x1b[31mRED"
    assert shown("Bücher-Shop") == "Bücher-Shop"


def test_the_cli_actor_is_the_account_not_what_the_environment_says(monkeypatch, tmp_path):
    me = pwd.getpwuid(os.geteuid()).pw_name
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME", "SUDO_USER"):
        monkeypatch.setenv(name, "mallory (key:c379d3e937d6 (admin))")
    no_login = tmp_path / "loginuid"
    no_login.write_text("4294967295")  # the login account, from the kernel: see tests/unit/test_key_files.py
    assert cli_actor(no_login) == f"cli:{me}"
