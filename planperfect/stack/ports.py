"""Free loopback ports for a stack of one's own (tests, benchmarks, the soak)."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_pair() -> int:
    """A port p with p+1 also free (the local broker's controller listens on p+1)."""
    return free_port_run(2)


def free_port_run(count: int) -> int:
    """A port p with p+1 ... p+count-1 also free (a cluster of n local brokers needs 2n: a client and a controller port each)."""
    for _ in range(50):
        p = free_port()
        taken = []
        try:
            for offset in range(1, count):
                s = socket.socket()
                taken.append(s)
                s.bind(("127.0.0.1", p + offset))
        except OSError:
            continue
        finally:
            for s in taken:
                s.close()
        return p
    raise RuntimeError(f"no {count} consecutive free ports")
