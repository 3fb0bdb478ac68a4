"""Where the local PostgreSQL listens for the project's own clients: a Unix socket in a directory of the stack's.

Why not its TCP port: a client cannot tell the server from a process that binds the port while the server is down
(an outage, a restart, `down` then any command), and asyncpg answers whatever authentication a server asks for,
cleartext included, so every client would hand such a squatter the role's password. Only the stack's own account
may create a file in this directory (inside the private data dir), so a client that connects through it reaches the
stack's PostgreSQL or nothing.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

# A socket's path must fit sun_path: 108 bytes with the closing NUL; PostgreSQL refuses a longer one.
MAX_SOCKET_PATH_BYTES = 107


def socket_dir(data_dir: Path) -> Path:
    """The directory PostgreSQL makes its socket (and the socket's lock file) in."""
    return data_dir.resolve() / "postgres" / "socket"


def socket_path(data_dir: Path, port: int) -> Path:
    """The socket itself: PostgreSQL names it after the port it would listen on over TCP."""
    return socket_dir(data_dir) / f".s.PGSQL.{port}"


def url_address(data_dir: Path, port: int) -> str:
    """The host and port of a `postgresql://` URL that connects through the socket: the directory percent-encoded,
    as asyncpg and libpq read a host that is a path (`postgresql://user:pw@%2Fsrv%2Fpp%2Fpostgres%2Fsocket:15432/db`);
    the database stays the URL's last path segment."""
    return f"{quote(str(socket_dir(data_dir)), safe='')}:{port}"
