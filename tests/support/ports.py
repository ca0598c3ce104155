"""Free TCP ports for the servers a test starts, chosen below the kernel's ephemeral range.

A port taken with ``bind(("127.0.0.1", 0))`` and given back comes from the ephemeral range, the same range every
outgoing connection's local port and every "any free port" of another server comes from (the Temporal dev server
picks its internal services' ports that way): between the pick and the test server's bind, any of them can take it,
and the test fails with "address already in use" for no fault of the product. A port below that range is never
handed out implicitly, so only an explicit bind can take it; each port is handed out once per test process."""

from __future__ import annotations

import random
import socket
from pathlib import Path

_FLOOR = 20000
_handed_out: set[int] = set()
_rng = random.Random()


def _ephemeral_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port nothing listens on now, below the ephemeral range, not handed out before in this process."""
    ceiling = max(_FLOOR + 1000, _ephemeral_floor())
    for _ in range(2000):
        port = _rng.randrange(_FLOOR, ceiling)
        if port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port between {_FLOOR} and {ceiling}")


def free_ports(count: int) -> list[int]:
    return [free_port() for _ in range(count)]
