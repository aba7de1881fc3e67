"""TCP ports on this machine: a free one to listen on, and whether a server listens at one."""

from __future__ import annotations

import socket
from collections.abc import Sequence


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen there now. SO_REUSEADDR as servers set it: connections
    of a process that just died (TIME_WAIT) do not hold the port, a listener does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def refusal(host: str, port: int, timeout: float = 1.0) -> str | None:
    """Why nothing accepts a TCP connection at host:port ("Connection refused"), or None when
    something does. Clients' own errors (kafka-python's NoBrokersAvailable, aiokafka's retries)
    do not say why, and a probe keeps them from logging every refused attempt."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def accepts(host: str, port: int) -> bool:
    return refusal(host, port) is None


def none_accept(servers: Sequence[str]) -> str | None:
    """Why none of the `host:port` servers accepts a connection, or None when one does."""
    causes = []
    for server in servers:
        host, _, port = server.rpartition(":")
        cause = refusal(host, int(port))
        if cause is None:
            return None
        causes.append(cause)
    return ", ".join(dict.fromkeys(causes))
