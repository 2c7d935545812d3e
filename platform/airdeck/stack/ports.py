"""Which ports are taken, and by whom."""

from __future__ import annotations

import socket

import psutil

from airdeck.stack.errors import PortInUseError


def port_owner(port: int) -> str:
    """A description of the process listening on ``port``, as far as this user may see."""
    try:
        connections = psutil.net_connections(kind="inet")
    except (psutil.AccessDenied, PermissionError):
        return "a process this user cannot inspect"
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            if conn.pid is None:
                return "a process this user cannot inspect"
            try:
                proc = psutil.Process(conn.pid)
                cmd = " ".join(proc.cmdline()[:4]) or proc.name()
                return f"pid {conn.pid} ({cmd})"
            except psutil.Error:
                return f"pid {conn.pid}"
    return "an unknown process"


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def check_ports_free(ports: list[tuple[str, int]], host: str = "127.0.0.1") -> None:
    """Raise one error naming every taken port, its key in airdeck.yaml and its owner."""
    taken = [(key, port) for key, port in ports if not port_is_free(port, host)]
    if not taken:
        return
    lines = [f"port {port} ({key}) is already in use by {port_owner(port)}" for key, port in taken]
    raise PortInUseError(
        "cannot start: " + "; ".join(lines)
        + ". Stop that process, or choose another port in airdeck.yaml."
    )
