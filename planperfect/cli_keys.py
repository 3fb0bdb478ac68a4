"""`planperfect keys …`: create (the key printed once), list (never a secret) and revoke API keys.

They work on the database directly, as `migrate` does (whoever may run them holds the database anyway), so that
keys can be made before any API runs; each change is also a fact on the access-events topic naming who made it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import asyncpg

from planperfect.reachability import KAFKA, POSTGRES
from planperfect.settings import Settings

ROLES = ("submitter", "reader", "operator", "admin")


def register(sub) -> None:
    from planperfect.cli import _command

    keys = _command(sub, "keys", "API keys: create, list, revoke").add_subparsers(
        dest="keys_cmd", required=True, metavar="COMMAND")
    c = _command(keys, "create", "make an API key and print it (shown this once)", cmd_create,
                 "Make an API key with a role and print it on stdout, this once: only its hash is stored. "
                 "Roles: submitter (intake, its jobs), reader (reads everything), operator (cancel, redrive, "
                 "rebuild, pacing triggers), admin (keys).")  # probes PostgreSQL and Kafka once the input is valid
    c.add_argument("--role", required=True, choices=ROLES, help="what the key may do")
    c.add_argument("--name", required=True,
                   help="who or what uses it, for lists and the audit trail: 1 to 200 printable characters")
    c.add_argument("--tenant", help="bind the key to this organisation: 1 to 63 lowercase letters, digits, '.', "
                                    "'_' or '-' (e.g. acme); not for an admin key")
    c.add_argument("--out", type=Path, metavar="FILE",
                   help="write the key to FILE (mode 0600, replaced atomically) instead of printing it; e.g. the "
                        "admin key file, PLANPERFECT_DATA_DIR/admin-api-key")
    ls = _command(keys, "list", "every key, revoked ones too (never a secret)", cmd_list, needs=(POSTGRES,))
    ls.add_argument("--json", action="store_true", help="one JSON object per key")
    r = _command(keys, "revoke", "revoke a key: the API refuses it within PLANPERFECT_API_KEY_CACHE_SECONDS",
                 cmd_revoke, needs=(POSTGRES, KAFKA))
    r.add_argument("key_id", help="the key's id (the <id> of pp_<id>_<secret>, as `keys list` shows it)")


async def _connected(settings: Settings, work):
    conn = await asyncpg.connect(settings.database())
    try:
        return await work(conn)
    finally:
        await conn.close()


def create_request(args) -> tuple[object | None, str | None]:
    """The key to make, validated by the API's own model (one rule for `keys create` and POST /v1/keys), or the
    one-line reason it is refused, naming the option."""
    from pydantic import ValidationError

    from api.requests import KeyCreate

    try:
        return KeyCreate.model_validate({"name": args.name, "role": args.role, "tenant": args.tenant}), None
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        reason = err["msg"].removeprefix("Value error, ")
        field = str(err["loc"][0]) if err["loc"] else None
        if field is None and ": " in reason:  # a rule over two fields names the one at fault
            field, reason = reason.split(": ", 1)
        return None, f"--{field} {reason}" if field else reason


def cmd_create(settings: Settings, args) -> int:
    from planperfect.api_key import SecretFile, new_key, os_reason

    from planperfect.reachability import check

    body, refused = create_request(args)
    if refused is not None:  # before the probe: a bad name is the same answer whether the stack is up or not
        print(f"planperfect keys create: {refused}", file=sys.stderr)
        return 2
    check(settings, (POSTGRES, KAFKA))

    def make():
        return asyncio.run(new_key(settings, name=body.name, role=body.role, tenant=body.tenant))

    if args.out is None:
        record, key = make()
        print(f"created key {_described(record)}; it is shown this once:", file=sys.stderr)
        print(key)
        return 0
    try:  # before the key is made: a key written nowhere would be an active key nobody has
        out = SecretFile(args.out)
    except OSError as exc:
        print(f"planperfect keys create: cannot write {args.out}: {os_reason(exc)}; no key was made", file=sys.stderr)
        return 1
    with out:
        record, key = make()
        try:
            out.commit(key)
        except OSError as exc:
            try:
                revoked = asyncio.run(_revoked(settings, record.key_id)) is not None
            except Exception:  # noqa: BLE001 - then the message says to revoke it by hand
                revoked = False
            print(f"planperfect keys create: made key {_described(record)} but could not write it to {args.out}: "
                  f"{os_reason(exc)}; " + ("revoked it, as nobody has it" if revoked else
                                           f"revoke it: planperfect keys revoke {record.key_id}"), file=sys.stderr)
            return 1
    print(f"created key {_described(record)}; written to {args.out} (readable only by you)", file=sys.stderr)
    return 0


def _described(record) -> str:
    tenant = f", tenant {record.tenant}" if record.tenant else ""
    return f"{record.key_id} ({record.name}: {record.role.value}{tenant})"


async def _revoked(settings: Settings, key_id: str):
    """Revoke a key, recorded as the command line's; the key as revoked, or None when there is no such key."""
    from api.keys import revoke_key
    from planperfect.api_key import access_log, cli_actor

    async def work(conn):
        async with access_log(settings) as send:
            return await revoke_key(conn, send, key_id, actor=cli_actor())

    return await _connected(settings, work)


def cmd_list(settings: Settings, args) -> int:
    from api.keys import list_keys

    records = asyncio.run(_connected(settings, list_keys))
    if args.json:
        for r in records:
            print(json.dumps(r.as_json()))
        return 0
    print(f"{'id':12}  {'role':9}  {'tenant':12}  {'created':20}  {'state':28}  name")
    for r in records:
        state = f"revoked {r.revoked_at:%Y-%m-%d %H:%M} by {r.revoked_by}" if r.revoked_at else "active"
        print(f"{r.key_id:12}  {r.role.value:9}  {shown(r.tenant or '-'):12}  {r.created_at:%Y-%m-%d %H:%M:%S}  "
              f"{state:28}  {shown(r.name)}")
    return 0


def shown(text: str) -> str:
    """Text for a terminal: a key made before names had to be printable may hold a newline or an escape sequence,
    which would break the table or take over the operator's terminal; such characters are shown escaped."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def cmd_revoke(settings: Settings, args) -> int:
    record = asyncio.run(_revoked(settings, args.key_id))
    if record is None:
        print(f"planperfect keys revoke: no key {args.key_id} (see planperfect keys list)", file=sys.stderr)
        return 1
    print(f"revoked key {record.key_id} ({record.name}) at {record.revoked_at:%Y-%m-%d %H:%M:%S %Z} "
          f"by {record.revoked_by}; API processes refuse it within {settings.api_key_cache_seconds:g} s")
    return 0
